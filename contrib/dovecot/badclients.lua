-- badclients.lua: a Dovecot Lua passdb that asks the badclients daemon whether a login may
-- proceed. Dovecot 2.3 (Lua 5.4, Debian package dovecot-auth-lua) and 2.4; needs luasocket
-- (Debian package lua-socket).
--
-- The script never sees or checks passwords: it is a gate. It asks the daemon
--   GET /v1/check?user=<user>&service=<service>&ip=<client ip>&verified=<yes|no>
-- where verified says whether an earlier passdb has already checked the password
-- (req.skip_password_check): a refusal of a login whose password nobody checked may be a
-- password guess, and the daemon does not count it as a blocked user.
--
-- Dovecot 2.3 and 2.4 name the request's variables differently (2.3: service, rip;
-- 2.4: protocol, remote_ip); the script reads whichever the running Dovecot has. 2.4 wants the
-- extra fields of an OK result as a table (2.3 takes a table too), and a string or nil with
-- every other result.
-- and maps the answer (lines verdict=, enforced=, matched=, message=) to a passdb result:
--   verdict=block and enforced=yes -> result_block (USER_DISABLED by default)
--   verdict=allow, or not enforced -> result_success (NEXT by default)
--   verdict=tempfail               -> INTERNAL_FAILURE
--   daemon unreachable / bad reply -> on_daemon_down (allow -> result_success,
--                                     tempfail -> INTERNAL_FAILURE)
--
-- Settings (see contrib/dovecot/README.md): `key = value` lines read from the file named by the
-- environment variable BADCLIENTS_LUA_CONFIG (Dovecot clears the environment: set it with
-- `import_environment = ... BADCLIENTS_LUA_CONFIG=/path`), else /etc/badclients/dovecot-lua.conf;
-- then, on top, the table Dovecot 2.4 passes to script_init() (lua_settings { ... }), if any.
-- Dovecot 2.3 refuses unknown words in the passdb `args` ("Unsupported parameter"), so the
-- settings cannot go there.
--
--   daemon           = http://127.0.0.1:8670     (or unix:/run/badclients/http.sock)
--   api_key          =                           (empty: no key header is sent)
--   api_header       = X-API-Key
--   timeout          = 2                         (seconds, per socket operation)
--   result_success   = next                      (next | unknown | ok)
--   result_block     = disabled                  (disabled | expired | missmatch)
--   process_unknown  = no                        (also check logins of users no earlier
--                                                 passdb knew, see unknown_user below)
--   on_daemon_down   = allow                     (allow | tempfail)

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local unix_loaded, socket_unix = pcall(require, "socket.unix")

local R = dovecot.auth

local DEFAULT_CONFIG = "/etc/badclients/dovecot-lua.conf"

local settings = {
  daemon = "http://127.0.0.1:8670",
  api_key = "",
  api_header = "X-API-Key",
  timeout = 2,
  result_success = "next",
  result_block = "disabled",
  process_unknown = false,
  on_daemon_down = "allow",
}

local SUCCESS_VALUES = { next = true, unknown = true, ok = true }
local BLOCK_RESULTS = {
  disabled = R.PASSDB_RESULT_USER_DISABLED,
  expired = R.PASSDB_RESULT_PASS_EXPIRED,
  missmatch = R.PASSDB_RESULT_PASSWORD_MISMATCH,
  mismatch = R.PASSDB_RESULT_PASSWORD_MISMATCH,
}
local DOWN_VALUES = { allow = true, tempfail = true }

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function truthy(value)
  local v = string.lower(tostring(value))
  if v == "yes" or v == "true" or v == "1" or v == "on" then
    return true
  elseif v == "no" or v == "false" or v == "0" or v == "off" or v == "" then
    return false
  end
  return nil
end

-- Applies one setting; returns nil or an error message.
local function apply(key, value)
  key = string.lower(trim(tostring(key)))
  value = trim(tostring(value))
  -- "quoted" or 'quoted' values are taken as they are; otherwise a # or ; after white space
  -- starts a comment.
  local quoted, rest = value:match('^"(.-)"(.*)$')
  if not quoted then
    quoted, rest = value:match("^'(.-)'(.*)$")
  end
  if quoted and (rest:match("^%s*$") or rest:match("^%s+[#;]")) then
    value = quoted
  else
    value = trim((value:gsub("%s+[#;].*$", "")))
  end
  if key == "daemon" then
    if not (value:match("^http://[^/]+") or value:match("^unix:/.+")) then
      return "daemon must be http://HOST:PORT or unix:/PATH, got " .. value
    end
    settings.daemon = value:gsub("/+$", "")
  elseif key == "api_key" then
    settings.api_key = value
  elseif key == "api_header" then
    if not value:match("^[%w%-_]+$") then
      return "api_header is not a header name: " .. value
    end
    settings.api_header = value
  elseif key == "timeout" then
    local n = tonumber(value)
    if not n or n <= 0 then
      return "timeout must be a positive number of seconds, got " .. value
    end
    settings.timeout = n
  elseif key == "result_success" then
    value = string.lower(value)
    if not SUCCESS_VALUES[value] then
      return "result_success must be next, unknown or ok, got " .. value
    end
    settings.result_success = value
  elseif key == "result_block" then
    value = string.lower(value)
    if not BLOCK_RESULTS[value] then
      return "result_block must be disabled, expired or missmatch, got " .. value
    end
    settings.result_block = value
  elseif key == "process_unknown" then
    local b = truthy(value)
    if b == nil then
      return "process_unknown must be yes or no, got " .. value
    end
    settings.process_unknown = b
  elseif key == "on_daemon_down" then
    value = string.lower(value)
    if not DOWN_VALUES[value] then
      return "on_daemon_down must be allow or tempfail, got " .. value
    end
    settings.on_daemon_down = value
  else
    return "unknown setting " .. key
  end
  return nil
end

-- Reads `key = value` lines. `#` and `;` start comment lines (and comments after white space),
-- `[section]` lines are ignored (so the older tool's INI file can be reused as it is).
local function read_file(path)
  local f, err = io.open(path, "r")
  if not f then
    return nil, err
  end
  local errors = {}
  local n = 0
  for line in f:lines() do
    n = n + 1
    local l = trim(line)
    if l ~= "" and not l:match("^[#;]") and not l:match("^%[.*%]$") then
      local key, value = l:match("^([%w_]+)%s*=%s*(.*)$")
      local problem
      if not key then
        problem = "not a `key = value` line"
      else
        problem = apply(key, value)
      end
      if problem then
        errors[#errors + 1] = string.format("%s:%d: %s", path, n, problem)
      end
    end
  end
  f:close()
  return errors
end

function script_init(args)
  local sources = {}
  local problems = {}
  local env_path = os.getenv("BADCLIENTS_LUA_CONFIG")
  local path = (env_path ~= nil and env_path ~= "") and env_path or DEFAULT_CONFIG
  local errors, err = read_file(path)
  if errors == nil then
    if env_path ~= nil and env_path ~= "" then
      dovecot.i_error("badclients.lua: cannot read BADCLIENTS_LUA_CONFIG " .. path .. ": " ..
        tostring(err))
      return -1
    end
    dovecot.i_info("badclients.lua: " .. tostring(err) .. "; using the built-in defaults")
  else
    sources[#sources + 1] = path
    for _, e in ipairs(errors) do
      problems[#problems + 1] = e
    end
  end
  -- Dovecot 2.4: lua_settings { } of the passdb, on top of the file.
  if type(args) == "table" then
    for k, v in pairs(args) do
      if type(k) == "string" then
        local problem = apply(k, v)
        if problem then
          problems[#problems + 1] = "lua_settings: " .. problem
        end
      end
    end
    sources[#sources + 1] = "lua_settings"
  end
  for _, p in ipairs(problems) do
    dovecot.i_warning("badclients.lua: " .. p)
  end
  if settings.daemon:match("^unix:") and not unix_loaded then
    dovecot.i_error("badclients.lua: daemon = " .. settings.daemon ..
      " needs socket.unix (luasocket): " .. tostring(socket_unix))
    return -1
  end
  http.TIMEOUT = settings.timeout
  dovecot.i_info(string.format(
    "badclients.lua: daemon=%s result_success=%s result_block=%s process_unknown=%s " ..
    "on_daemon_down=%s (%s; %s)",
    settings.daemon, settings.result_success, settings.result_block,
    tostring(settings.process_unknown), settings.on_daemon_down,
    #sources > 0 and table.concat(sources, " + ") or "defaults", tostring(socket._VERSION)))
  return 0
end

-- Some Dovecot versions hand the passdb's extra args to auth_passdb_init(args) instead.
function auth_passdb_init(args)
  if type(args) ~= "table" then
    return 0
  end
  for k, v in pairs(args) do
    if type(k) == "string" and k ~= "file" then
      local problem = apply(k, v)
      if problem then
        dovecot.i_warning("badclients.lua: auth_passdb_init: " .. problem)
      end
    end
  end
  http.TIMEOUT = settings.timeout
  return 0
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

-- GET over a unix socket, HTTP/1.0 with Connection: close. Returns status, body or nil, err.
local function get_unix(path, target)
  local c = socket_unix()
  c:settimeout(settings.timeout)
  local ok, err = c:connect(path)
  if not ok then
    c:close()
    return nil, "connect " .. path .. ": " .. tostring(err)
  end
  local request = "GET " .. target .. " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n"
  if settings.api_key ~= "" then
    request = request .. settings.api_header .. ": " .. settings.api_key .. "\r\n"
  end
  request = request .. "\r\n"
  ok, err = c:send(request)
  if not ok then
    c:close()
    return nil, "send: " .. tostring(err)
  end
  local data, rerr, partial = c:receive("*a")
  c:close()
  data = data or partial
  if not data or data == "" then
    return nil, "receive: " .. tostring(rerr)
  end
  local status = data:match("^HTTP/%d%.%d (%d%d%d)")
  if not status then
    return nil, "not an HTTP answer"
  end
  local body = data:match("\r?\n\r?\n(.*)$") or ""
  return tonumber(status), body
end

local function get_tcp(target)
  local chunks = {}
  local headers = { ["Connection"] = "close" }
  if settings.api_key ~= "" then
    headers[settings.api_header] = settings.api_key
  end
  local ok, code = http.request({
    url = settings.daemon .. target,
    method = "GET",
    headers = headers,
    sink = ltn12.sink.table(chunks),
  })
  if not ok then
    return nil, tostring(code)
  end
  if type(code) ~= "number" then
    return nil, "no HTTP status: " .. tostring(code)
  end
  return code, table.concat(chunks)
end

-- Asks the daemon. Returns a table {verdict=, enforced=, matched=, message=} or nil, err.
local function ask(user, service, ip, verified)
  local target = "/v1/check?user=" .. urlencode(user) .. "&service=" .. urlencode(service) ..
    "&ip=" .. urlencode(ip) .. "&verified=" .. (verified and "yes" or "no")
  local status, body
  local path = settings.daemon:match("^unix:(.+)$")
  if path then
    status, body = get_unix(path, target)
  else
    status, body = get_tcp(target)
  end
  if not status then
    return nil, body
  end
  if status ~= 200 then
    return nil, "HTTP status " .. tostring(status) .. ": " .. trim(tostring(body)):sub(1, 200)
  end
  local answer = {}
  for line in (body .. "\n"):gmatch("([^\n]*)\n") do
    local key, value = line:gsub("\r$", ""):match("^([%w_]+)=(.*)$")
    if key then
      answer[key] = value
    end
  end
  if answer.verdict ~= "allow" and answer.verdict ~= "block" and answer.verdict ~= "tempfail" then
    return nil, "no verdict in the answer"
  end
  return answer
end

local function success(req)
  local mode = settings.result_success
  if mode == "ok" then
    if req.skip_password_check then
      return R.PASSDB_RESULT_OK, {}
    end
    -- OK without a password would fail the login: only an earlier passdb can vouch for it
    return R.PASSDB_RESULT_USER_UNKNOWN, "badclients: allowed"
  elseif mode == "unknown" then
    return R.PASSDB_RESULT_USER_UNKNOWN, "badclients: allowed"
  end
  return R.PASSDB_RESULT_NEXT, ""
end

local function daemon_down(req, why)
  req:log_error("badclients: no answer from " .. settings.daemon .. ": " .. why ..
    " (on_daemon_down=" .. settings.on_daemon_down .. ")")
  if settings.on_daemon_down == "tempfail" then
    return R.PASSDB_RESULT_INTERNAL_FAILURE, "badclients: daemon unavailable"
  end
  return success(req)
end

-- Whether no earlier passdb knows the user. Dovecot 2.3 fills req.passdbs_seen_user_unknown
-- only in the auth process (blocking=no); in an auth-worker (blocking=yes) it is always false.
-- Placed last (result_success = ok), the shim therefore also counts a login that no earlier
-- passdb authenticated (skip_password_check false) as unknown: it fails anyway.
local function unknown_user(req)
  if req.passdbs_seen_user_unknown then
    return true
  end
  return settings.result_success == "ok" and not req.skip_password_check
end

-- The first of the request's variables `names` that is set and not empty, or "".
-- (An unknown name is nil on both releases.)
local function variable(req, names)
  for _, name in ipairs(names) do
    local value = req[name]
    if value ~= nil and value ~= "" then
      return tostring(value)
    end
  end
  return ""
end

-- 2.4 first: on 2.3 `protocol` and `remote_ip` are nil, on 2.4 `service` and `rip` are.
local SERVICE_NAMES = { "protocol", "service" }
local IP_NAMES = { "remote_ip", "rip" }
local USER_NAMES = { "user" }

function auth_passdb_lookup(req)
  if not settings.process_unknown and unknown_user(req) then
    return R.PASSDB_RESULT_USER_UNKNOWN, "badclients: not checked (no earlier passdb knows the user)"
  end
  local ip = variable(req, IP_NAMES)
  if ip == "" then
    -- a local lookup without a client address (e.g. doveadm without rip): nothing to check
    return success(req)
  end
  local answer, err = ask(variable(req, USER_NAMES), variable(req, SERVICE_NAMES), ip,
    req.skip_password_check == true)
  if not answer then
    return daemon_down(req, err)
  end
  if answer.verdict == "tempfail" then
    req:log_warning("badclients: temporary failure for " .. ip)
    return R.PASSDB_RESULT_INTERNAL_FAILURE, "badclients: temporary failure"
  end
  if answer.verdict == "block" and answer.enforced == "yes" then
    local message = answer.message
    if message == nil or message == "" then
      message = "badclients: login refused"
    end
    req:log_info("badclients: blocked " .. ip .. " matched=" .. tostring(answer.matched))
    return BLOCK_RESULTS[settings.result_block], message
  end
  return success(req)
end
