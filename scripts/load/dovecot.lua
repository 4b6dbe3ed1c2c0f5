-- wrk script: POSTs real Dovecot 2.3 auth-policy bodies (as captured in the project's
-- reference) for a rotating set of client addresses of the contract's five logins.
local bodies = {}
local ips = {"176.112.169.218", "139.162.133.252", "209.85.218.15", "209.85.218.53", "172.17.1.204"}
for i, ip in ipairs(ips) do
  bodies[i] = string.format(
    '{"device_id":"","local":"127.0.0.1","login":"user%d","lport":"10143","mech":"PLAIN",' ..
    '"protocol":"imap","pwhash":"0cd2","real_remote":"127.0.0.1","remote":"%s","rport":"40001",' ..
    '"secured":"secured","session_id":"La8coT9hQZzLAHEy","user":"user%d","tls":false}', i, ip, i)
end
local n = 0
wrk.method = "POST"
wrk.path = "/?command=allow"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "load-test-key"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
