-- wrk script for the soak: every request a new client address, counting up from 11.0.0.0
-- (SOAK_IPS of them, then again from the start), each thread its own share; the user
-- names count up too (SOAK_USERS of them), as a password sprayer's do.
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  span = tonumber(os.getenv("SOAK_IPS") or "1000000")
  step = tonumber(os.getenv("SOAK_THREADS") or "1")
  users = tonumber(os.getenv("SOAK_USERS") or "1000000")
end
wrk.method = "POST"
wrk.path = "/?command=allow"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "soak-key"
request = function()
  local n = (counter * step + id) % span
  counter = counter + 1
  local ip = string.format("11.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format(nil, nil, nil, string.format(
    '{"login":"soak%d","protocol":"imap","remote":"%s","session_id":"s","user":"soak%d"}',
    n % users, ip, n % users))
end
