-- Loads contrib/dovecot/badclients.lua outside Dovecot (with a stub `dovecot` table) and prints
-- the settings script_init() ends up with, one `key=value` per line, then every log line.
-- Usage: BADCLIENTS_LUA_CONFIG=FILE lua5.4 settings_check.lua SHIM
local logs = {}
local function logger(level)
  return function(msg) logs[#logs + 1] = level .. " " .. msg end
end
dovecot = {
  auth = {
    PASSDB_RESULT_INTERNAL_FAILURE = -1, PASSDB_RESULT_SCHEME_NOT_AVAILABLE = -2,
    PASSDB_RESULT_USER_UNKNOWN = -3, PASSDB_RESULT_USER_DISABLED = -4,
    PASSDB_RESULT_PASS_EXPIRED = -5, PASSDB_RESULT_NEXT = -6,
    PASSDB_RESULT_PASSWORD_MISMATCH = -7, PASSDB_RESULT_OK = 1,
  },
  i_info = logger("info"), i_warning = logger("warning"), i_error = logger("error"),
}
dofile(arg[1])
print("script_init=" .. tostring(script_init()))
-- The settings table is local to the shim: find it among the upvalues of its functions.
local function find_settings(fn, seen)
  seen = seen or {}
  if seen[fn] then return nil end
  seen[fn] = true
  local j = 1
  while true do
    local name, value = debug.getupvalue(fn, j)
    if name == nil then return nil end
    if name == "settings" then return value end
    if type(value) == "function" then
      local s = find_settings(value, seen)
      if s then return s end
    end
    j = j + 1
  end
end
local settings = find_settings(script_init) or find_settings(auth_passdb_lookup)
local keys = {}
for k in pairs(settings) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do print(k .. "=" .. tostring(settings[k])) end
for _, l in ipairs(logs) do print(l) end
