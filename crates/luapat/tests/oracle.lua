-- Oracle for the differential tests of the luapat crate.
-- Usage: lua5.4 oracle.lua CASES OUT
-- CASES has one case per line, "PATTERN_HEX,SUBJECT_HEX". For each case OUT
-- gets two lines: the results of pcall(string.match, s, p) and of
-- pcall(string.find, s, p), each as
--   "E <message>"             an error
--   "N"                       nil (no match)
--   "V <v1> <v2> ..."         values: "s<hex>" for strings, "n<int>" numbers

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

local function fmt(ok, ...)
  if not ok then
    return "E " .. tostring((...))
  end
  local n = select("#", ...)
  if n == 1 and (...) == nil then
    return "N"
  end
  local out = { "V" }
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "string" then
      out[#out + 1] = "s" .. hex(v)
    elseif math.type(v) == "integer" then
      out[#out + 1] = "n" .. tostring(v)
    else
      out[#out + 1] = "?" .. tostring(v)
    end
  end
  return table.concat(out, " ")
end

local input = assert(io.open(arg[1], "rb"))
local output = assert(io.open(arg[2], "wb"))
for line in input:lines() do
  local hp, hs = line:match("^(%x*),(%x*)$")
  assert(hp, "bad case line: " .. line)
  local p, s = unhex(hp), unhex(hs)
  output:write(fmt(pcall(string.match, s, p)), "\n")
  output:write(fmt(pcall(string.find, s, p)), "\n")
end
input:close()
output:close()
