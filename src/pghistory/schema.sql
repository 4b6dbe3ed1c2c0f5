-- badclients shared decision history, schema version 1. Applied by `badclients history
-- migrate` (and at the daemon's start) in one transaction under an advisory lock, so
-- nodes starting together apply it once. Times are microseconds since the Unix epoch (UTC);
-- strings are in their escaped audit-line form.

-- One row per decision a node answered. Partitioned by UTC day (badclients_ensure_day
-- creates a day's partition before the first row of that day is written); pruning drops
-- whole days.
CREATE TABLE badclients_decisions (
    time_us       bigint   NOT NULL,
    node          text     NOT NULL,
    -- The node's batch the row was shipped in (see badclients_batches).
    batch         bigint   NOT NULL,
    user_name     text     NOT NULL,
    service       text     NOT NULL,
    ip            inet     NOT NULL,
    host          text,
    asn           bigint,
    as_cc         text,
    as_desc       text,
    net_name      text,
    net_cc        text,
    entities      text[]   NOT NULL,
    cloud         text[]   NOT NULL,
    geo_cc        text,
    -- 0 allowed, 1 blocked, 2 would_block, 3 tempfail, 4 unverified (Outcome::code).
    outcome       smallint NOT NULL,
    matched       text,
    matched_entry text,
    lookup_errors text[]   NOT NULL
) PARTITION BY RANGE (time_us);

-- Every batch a node shipped: inserting its (node, batch) in the batch's own transaction
-- makes shipping idempotent (a batch shipped again after a crash finds its row and is
-- skipped).
CREATE TABLE badclients_batches (
    node       text        NOT NULL,
    batch      bigint      NOT NULL,
    rows       integer     NOT NULL,
    shipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, batch)
);

-- The nodes that ship here, and when each last did.
CREATE TABLE badclients_nodes (
    node         text        PRIMARY KEY,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_shipped timestamptz NOT NULL DEFAULT now()
);

-- Identical decisions of one node and one UTC day merged into one row with their count and
-- first and last time, kept up to date in the transaction that ships them: what reports over
-- whole days read instead of every decision. group_key is the md5 of the row's values
-- (the columns below but the counts), so the key stays small whatever the strings.
CREATE TABLE badclients_daily (
    day_us        bigint   NOT NULL,
    node          text     NOT NULL,
    group_key     bytea    NOT NULL,
    user_name     text     NOT NULL,
    service       text     NOT NULL,
    ip            inet     NOT NULL,
    host          text,
    asn           bigint,
    as_cc         text,
    as_desc       text,
    net_name      text,
    net_cc        text,
    entities      text[]   NOT NULL,
    cloud         text[]   NOT NULL,
    geo_cc        text,
    outcome       smallint NOT NULL,
    matched       text,
    matched_entry text,
    lookup_errors text[]   NOT NULL,
    n             bigint   NOT NULL,
    first_us      bigint   NOT NULL,
    last_us       bigint   NOT NULL,
    PRIMARY KEY (day_us, node, group_key)
);

-- Creates the partition of badclients_decisions holding the UTC day that starts at
-- day_start_us (a multiple of 86400000000), when it does not exist yet. Serialised by a
-- transaction-level advisory lock, so nodes creating the same day at once do not collide.
CREATE FUNCTION badclients_ensure_day(day_start_us bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'badclients_decisions_'
        || to_char(to_timestamp(day_start_us / 1000000) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(7262017761829431296);
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF badclients_decisions FOR VALUES FROM (%s) TO (%s)',
                part, day_start_us, day_start_us + 86400000000);
        END IF;
    END IF;
END
$$;

-- Ships one batch of a node: the caller fills the temporary table badclients_incoming
-- (created as `CREATE TEMP TABLE badclients_incoming (LIKE badclients_decisions) ON COMMIT
-- DELETE ROWS`, every row carrying p_node and p_batch) and calls this in the same
-- transaction. Records the batch (a batch shipped before is skipped: returns -1), makes the
-- days' partitions before writing anything, inserts the rows, folds them into
-- badclients_daily and marks the node as seen; returns the rows inserted.
CREATE FUNCTION badclients_ship_incoming(p_node text, p_batch bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    day bigint;
    shipped bigint;
BEGIN
    INSERT INTO badclients_batches (node, batch, rows)
        VALUES (p_node, p_batch, (SELECT count(*) FROM badclients_incoming))
        ON CONFLICT (node, batch) DO NOTHING;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    FOR day IN SELECT DISTINCT time_us - time_us % 86400000000 FROM badclients_incoming LOOP
        PERFORM badclients_ensure_day(day);
    END LOOP;
    INSERT INTO badclients_decisions SELECT * FROM badclients_incoming;
    GET DIAGNOSTICS shipped = ROW_COUNT;
    INSERT INTO badclients_daily AS d (
        day_us, node, group_key, user_name, service, ip, host, asn, as_cc, as_desc, net_name,
        net_cc, entities, cloud, geo_cc, outcome, matched, matched_entry, lookup_errors,
        n, first_us, last_us)
    SELECT day_us, node,
           decode(md5(row(user_name, service, ip, host, asn, as_cc, as_desc, net_name, net_cc,
                          entities, cloud, geo_cc, outcome, matched, matched_entry,
                          lookup_errors)::text), 'hex'),
           user_name, service, ip, host, asn, as_cc, as_desc, net_name, net_cc, entities,
           cloud, geo_cc, outcome, matched, matched_entry, lookup_errors, n, first_us, last_us
      FROM (SELECT time_us - time_us % 86400000000 AS day_us, node, user_name, service, ip,
                   host, asn, as_cc, as_desc, net_name, net_cc, entities, cloud, geo_cc,
                   outcome, matched, matched_entry, lookup_errors,
                   count(*) AS n, min(time_us) AS first_us, max(time_us) AS last_us
              FROM badclients_incoming
             GROUP BY 1, node, user_name, service, ip, host, asn, as_cc, as_desc, net_name,
                      net_cc, entities, cloud, geo_cc, outcome, matched, matched_entry,
                      lookup_errors) AS grouped
    ON CONFLICT (day_us, node, group_key) DO UPDATE
       SET n = d.n + EXCLUDED.n,
           first_us = least(d.first_us, EXCLUDED.first_us),
           last_us = greatest(d.last_us, EXCLUDED.last_us);
    INSERT INTO badclients_nodes (node) VALUES (p_node)
        ON CONFLICT (node) DO UPDATE SET last_shipped = now();
    RETURN shipped;
END
$$;

-- Shipping and pruning

-- Drops the day partitions of badclients_decisions that end at or before cutoff_us (their
-- every decision is older than the retention) and the badclients_daily rows of those days,
-- and forgets the batches shipped before batches_before_us (kept longer than the decisions,
-- so a batch sent again late is still skipped). The daemon calls it once a minute holding a
-- transaction-level advisory lock, so one node prunes at a time. Returns the days dropped.
CREATE FUNCTION badclients_prune(cutoff_us bigint, batches_before_us bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part text;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'badclients_decisions'::regclass
           AND c.relname ~ '^badclients_decisions_[0-9]{8}$'
    LOOP
        IF extract(epoch FROM to_date(right(part, 8), 'YYYYMMDD')::timestamp
                   AT TIME ZONE 'UTC')::bigint * 1000000 + 86400000000 <= cutoff_us THEN
            EXECUTE format('DROP TABLE %I', part);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM badclients_daily WHERE day_us + 86400000000 <= cutoff_us;
    DELETE FROM badclients_batches
     WHERE shipped_at < to_timestamp(batches_before_us / 1000000.0);
    RETURN dropped;
END
$$;

-- Deletes every decision of p_user (escaped form, ignoring ASCII case only, like the redb
-- history) from badclients_decisions and badclients_daily; returns the decisions deleted.
CREATE FUNCTION badclients_forget(p_user text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    -- lower() under the "C" collation lowers ASCII letters only.
    wanted text := lower(p_user COLLATE "C");
    deleted bigint;
BEGIN
    DELETE FROM badclients_decisions WHERE lower(user_name COLLATE "C") = wanted;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM badclients_daily WHERE lower(user_name COLLATE "C") = wanted;
    RETURN deleted;
END
$$;

-- Reading (report, suggest, /ui; see src/pghistory/read.rs). Whole days are read from
-- badclients_daily by day_us (its primary key's first column); the partial days at the
-- edges of a range scan their day's partition of badclients_decisions, narrowed by the
-- block-range index below (rows arrive roughly in time order, so it stays tiny and costs
-- the shipping next to nothing). One user's rows (`--user`, the dashboard's user page) are
-- found in the daily rows through the index on the name lowered in ASCII only (as
-- Filter::accepts compares).
CREATE INDEX badclients_decisions_time ON badclients_decisions USING brin (time_us);
CREATE INDEX badclients_daily_user ON badclients_daily (lower(user_name COLLATE "C"), day_us);
