-- wrk script for the soak: one client address (SOAK_IP) again and again; with --latency
-- this measures the logins' latency.
wrk.method = "POST"
wrk.path = "/?command=allow"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "soak-key"
local ip = os.getenv("SOAK_IP") or "10.0.0.1"
wrk.body = string.format('{"login":"u","protocol":"imap","remote":"%s","session_id":"s","user":"u"}', ip)
