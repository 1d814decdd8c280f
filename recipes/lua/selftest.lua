-- Self-test for the Lua image: exercises the parts of the standard library that reach
-- the kernel (time, clock, memory through the allocator, environment) and the parts
-- that must not behave differently just because they run on ukit (strings, tables,
-- math, coroutines, errors). Every line printed is computed; the script ends with
-- "selftest: N checks, 0 failed" and exits 1 if any check failed.
--
-- Run it with `ukport run lua -- selftest.lua` (hostfs) or, once the rootfs is mounted,
-- `ukport run lua -- /lua/selftest.lua`; compare with a natively built lua.

local checks, failed = 0, 0
local function check(name, cond, detail)
  checks = checks + 1
  if not cond then
    failed = failed + 1
    print(("FAIL %s%s"):format(name, detail and (": " .. tostring(detail)) or ""))
  end
end

-- strings
local s = ("abc"):rep(4, "-")
print("rep", s, #s)
check("rep", s == "abc-abc-abc-abc" and #s == 15)
print("gsub", ("hello world from lua"):gsub("(%w+)", "<%1>"))
print("find", ("key = value"):find("(%w+)%s*=%s*(%w+)"))
print("format", ("%5.2f|%-5d|%x|%q|%g"):format(math.pi, 42, 255, "a\nb", 1e20))
print("byte/char", ("Lua"):byte(1, -1), string.char(72, 105))
print("upper/rev", ("ukit"):upper(), ("ukit"):reverse())
local words = {}
for w in ("the quick brown fox jumps"):gmatch("%a+") do words[#words + 1] = w end
print("gmatch", #words, table.concat(words, ","))
check("gmatch", #words == 5)
print("pack", string.unpack("<i4", string.pack("<i4", -123456)))
print("utf8", utf8.char(72, 228, 8364, 128512), utf8.len("häll€"))

-- tables
local t = {}
for i = 1, 1000 do t[i] = (i * 7919) % 1009 end
table.sort(t)
local sorted = true
for i = 2, #t do if t[i - 1] > t[i] then sorted = false end end
check("sort", sorted)
print("sort", #t, t[1], t[500], t[1000])
table.sort(t, function(a, b) return a > b end)
print("sort desc", t[1], t[1000])
table.insert(t, 1, -1)
print("insert/remove", t[1], table.remove(t, 1), table.remove(t), #t)
print("unpack", table.unpack({1, 2, 3}, 2))
print("move", table.concat(table.move({1, 2, 3}, 1, 3, 2, {0}), ","))
local keys = {}
for k in pairs({alpha = 1, beta = 2, gamma = 3}) do keys[#keys + 1] = k end
table.sort(keys)
print("pairs", table.concat(keys, " "))

-- a lot of allocation: exercises malloc/free (mmap/brk in the kernel) and the GC
local big = {}
for i = 1, 200000 do big[i] = tostring(i) .. "x" end
local kb_before = collectgarbage("count")
big = nil
collectgarbage("collect")
local kb_after = collectgarbage("count")
check("gc", kb_after < kb_before, ("%.0f KiB -> %.0f KiB"):format(kb_before, kb_after))
print("gc", "freed", kb_after < kb_before)
local parts = {}
for i = 1, 10000 do parts[i] = ("%05d"):format(i) end
local joined = table.concat(parts)
print("concat", #joined, joined:sub(-10))

-- math
print("math", math.pi, math.huge, -math.huge, math.maxinteger, math.mininteger)
print("ints", 7 // 2, 7 % -3, -7 // 2, 2^53, 1 << 62, 3 / 2, math.type(1), math.type(1.0))
print("float", ("%.10f"):format(math.sqrt(2)), ("%.6f"):format(math.sin(1)),
  ("%.6f"):format(math.exp(1)), ("%.6f"):format(math.log(10, 2)))
print("conv", math.tointeger(3.0), tostring(1e15), tostring(2^63), 0x10, tonumber("0x1p4"),
  tonumber("  12  "), tonumber("z", 36), math.floor(-3.5), math.ceil(-3.5), math.fmod(-7, 3))
math.randomseed(42)
local r1 = {math.random(1, 100), math.random(1, 100), math.random()}
math.randomseed(42)
local r2 = {math.random(1, 100), math.random(1, 100), math.random()}
check("random reproducible", r1[1] == r2[1] and r1[2] == r2[2] and r1[3] == r2[3])
print("random", r1[1], r1[2], ("%.6f"):format(r1[3]))
local sum = 0
for i = 1, 1000000 do sum = sum + i % 7 end
print("loop", sum)

-- coroutines
local gen = coroutine.wrap(function(n)
  local a, b = 0, 1
  for _ = 1, n do
    coroutine.yield(a)
    a, b = b, a + b
  end
  return "done"
end)
local fib = {}
fib[1] = gen(15)
for i = 2, 15 do fib[i] = gen() end
print("fib", table.concat(fib, " "), gen())
local co = coroutine.create(function(x)
  local y = coroutine.yield(x * 2)
  error("boom " .. y)
end)
print("co", coroutine.resume(co, 21))
local ok, err = coroutine.resume(co, "after")
print("co error", ok, err, coroutine.status(co))
print("co running", coroutine.isyieldable(), select(2, coroutine.running()))

-- errors
local okt, et = pcall(error, {code = 7})
print("pcall table", okt, type(et), et.code)
print("pcall msg", pcall(function() error("plain", 0) end))
print("pcall pos", pcall(function() error("located") end))
print("pcall type", pcall(function() return nil + 1 end))
print("xpcall", xpcall(function() local x = {} ; return x.y.z end,
  function(m) return "handled: " .. m end))
local ok2, e2 = pcall(error, setmetatable({}, {__tostring = function() return "custom" end}))
print("error object", ok2, tostring(e2))
print("nested", pcall(pcall, error, "inner"))
-- level 2 blames the caller, here pcall (a C function), which has no position to add
check("error level 2", select(2, pcall(function() error("lvl", 2) end)) == "lvl")

-- metatables and closures
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end
V.__tostring = function(v) return "V(" .. v.x .. ")" end
print("meta", tostring(setmetatable({x = 1}, V) + setmetatable({x = 2}, V)))
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
c1(); c1()
print("closure", c1(), c2())
print("load", load("return 6 * 7")(), load("syntax error here"))

-- os: time and clock come from the kernel
local now = os.time()
print("os.time is recent", now > 1600000000)
check("os.time", math.type(now) == "integer" and now > 1600000000, now)
local d = os.date("!*t", 86400 * 365)
print("os.date", d.year, d.month, d.day, d.hour, os.date("!%Y-%m-%d %H:%M:%S", 1000000000))
print("os.time(table)", os.time({year = 2000, month = 1, day = 1, hour = 12}) ==
  os.time({year = 1999, month = 12, day = 32, hour = 12}))
print("difftime", os.difftime(now + 60, now))
local c0 = os.clock()
local x = 0
for i = 1, 3000000 do x = x + math.sin(i) end
local c1s = os.clock()
check("os.clock advances", c1s > c0, ("%f -> %f"):format(c0, c1s))
check("os.clock sane", c1s - c0 < 60, c1s - c0)
print("os.clock advances", c1s > c0)
print("os.getenv", os.getenv("LUA_SELFTEST_NONEXISTENT"), type(os.getenv("PATH")))
print("tmpname type", type(os.tmpname))

print(("selftest: %d checks, %d failed"):format(checks, failed))
os.exit(failed == 0 and 0 or 1)
