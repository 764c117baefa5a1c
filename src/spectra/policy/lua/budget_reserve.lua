-- Check every hard budget and reserve the estimate, atomically (budget_redis.py).
-- KEYS: n spent counters, n reservation sets (one per check), m reservation sets to add to.
-- ARGV: n, m, member ("<request id>|<micros>"), micros, ttl ms, then n allowed amounts.
-- Returns {0, spent...} when reserved, {1, i, spent, pending} when check i refuses,
-- {2, i...} when spent counters i... are missing (the caller loads them from the database).
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
local member = ARGV[3]
local micros = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local missing = {2}
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 0 then missing[#missing + 1] = i end
end
if #missing > 1 then return missing end
local out = {0}
for i = 1, n do
  local spent = tonumber(redis.call('GET', KEYS[i]))
  local set = KEYS[n + i]
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  local pending = 0
  for _, held in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    pending = pending + tonumber(string.match(held, '|(%d+)$'))
  end
  if spent + pending + micros > tonumber(ARGV[5 + i]) then
    return {1, i, spent, pending}
  end
  out[#out + 1] = spent
end
for j = 1, m do
  local set = KEYS[2 * n + j]
  redis.call('ZADD', set, now + ttl, member)
  redis.call('PEXPIRE', set, ttl + 60000)
end
return out
