//! Which settings a reload cannot apply: the listeners, the lookup and cache machinery and
//! the history are built once at start, so a change to them waits for a restart. A reload
//! names them ("restart needed") instead of ignoring them without a word.
//!
//! Everything else (the lists, the modes, messages, the API key, `ignore_networks`, the
//! cloud feed directory) is read from the current state on every request and applies at
//! once.

use crate::config::{Config, GeoIpSection, HistorySection, HttpSection, PostfixSection};

/// The settings that differ between `old` and `new` but only apply after a restart, as
/// the configuration file names them (`[http] listen`, `[cache]`, …), in file order.
pub(super) fn settings_needing_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("[lookup]", old.lookup != new.lookup);
    check("[rdap]", old.rdap != new.rdap);
    check("[cache]", old.cache != new.cache);
    check("[http] listen", old.http.listen != new.http.listen);
    check(
        "[http] socket_mode",
        old.http.socket_mode != new.http.socket_mode,
    );
    check(
        "[http] (connection settings)",
        http_at_start(&old.http) != http_at_start(&new.http),
    );
    check("[postfix] listen", old.postfix.listen != new.postfix.listen);
    check(
        "[postfix] socket_mode",
        old.postfix.socket_mode != new.postfix.socket_mode,
    );
    check(
        "[postfix] (connection settings)",
        postfix_at_start(&old.postfix) != postfix_at_start(&new.postfix),
    );
    check("[[dnsbl]]", old.dnsbl != new.dnsbl);
    check(
        "[geoip] city/asn",
        geoip_at_start(&old.geoip) != geoip_at_start(&new.geoip),
    );
    check(
        "[history]",
        history_at_start(&old.history) != history_at_start(&new.history),
    );
    changed
}

/// Logs the settings that differ from those the daemon started with and wait for a
/// restart (after every reload while the difference lasts).
pub(super) fn warn_restart_needed(started: &Config, now: &Config) {
    let changed = settings_needing_restart(started, now);
    if !changed.is_empty() {
        tracing::warn!(
            settings = %changed.join(", "),
            "restart needed: these settings changed but apply only after a restart; the daemon runs with the values it started with"
        );
    }
}

/// `[http]` without what requests read live (the key, its header, the block message) and
/// without the listen address and socket mode (named on their own).
fn http_at_start(http: &HttpSection) -> HttpSection {
    HttpSection {
        listen: String::new(),
        socket_mode: None,
        api_key: None,
        api_header: String::new(),
        block_message: String::new(),
        ..http.clone()
    }
}

/// `[postfix]` without what each request reads live and what is named on its own.
fn postfix_at_start(postfix: &PostfixSection) -> PostfixSection {
    PostfixSection {
        listen: None,
        socket_mode: None,
        reject_message: String::new(),
        check_unauthenticated: false,
        ..postfix.clone()
    }
}

/// `[geoip]` without `check_secs`, which the watcher reads on every round.
fn geoip_at_start(geoip: &GeoIpSection) -> GeoIpSection {
    GeoIpSection {
        check_secs: 0,
        ..geoip.clone()
    }
}

/// `[history]` without `known_good`, which the report and the dashboard read when asked.
fn history_at_start(history: &HistorySection) -> HistorySection {
    HistorySection {
        known_good: None,
        ..history.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_settings_need_no_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.mode = crate::config::Mode::Audit;
        new.http.api_key = Some("k".into());
        new.http.block_message = "no".into();
        new.postfix.reject_message = "no".into();
        new.geoip.check_secs = 60;
        new.history.known_good = Some("kg.lst".into());
        new.log_local = true;
        assert!(settings_needing_restart(&old, &new).is_empty());
    }

    #[test]
    fn listeners_lookups_cache_and_history_need_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.http.listen = "127.0.0.1:9999".into();
        new.http.header_timeout_ms += 1;
        new.postfix.max_connections += 1;
        new.postfix.listen = Some("127.0.0.1:8671".into());
        new.lookup.deadline_ms += 1;
        new.cache.memory_only = !new.cache.memory_only;
        new.history.flush_ms += 1;
        new.geoip.city = Some("city.mmdb".into());
        assert_eq!(
            settings_needing_restart(&old, &new),
            [
                "[lookup]",
                "[cache]",
                "[http] listen",
                "[http] (connection settings)",
                "[postfix] listen",
                "[postfix] (connection settings)",
                "[geoip] city/asn",
                "[history]"
            ]
        );
    }
}
