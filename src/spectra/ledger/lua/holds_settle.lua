-- KEYS: holds zset, hold key, settled marker, account keys (plan order).
-- ARGV: cost, idempotency key, last index (1-based plan index that takes what is left),
--       settled ttl, hold id, then per account: cap (-1 none), held part (0 if none).
-- Returns {1, charge...}, {-2} (already settled) or {-1, index} (account not loaded).
local cost = tonumber(ARGV[1])
local n = #KEYS - 3
if redis.call('EXISTS', KEYS[3]) == 1 then return {-2} end
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 + i]) == 0 then return {-1, i} end
end
local still_open = redis.call('EXISTS', KEYS[2]) == 1
local charges = {}
for i = 1, n do charges[i] = 0 end
local remaining = cost
if still_open then
  for i = 1, n do
    local take = tonumber(ARGV[5 + 2 * i])
    if take > 0 then
      redis.call('HINCRBY', KEYS[3 + i], 'h', string.format('%d', -take))
      local charge = math.min(take, remaining)
      charges[i] = charges[i] + charge
      remaining = remaining - charge
    end
  end
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[5])
end
if remaining > 0 then
  for i = 1, n do
    if remaining == 0 then break end
    local v = redis.call('HMGET', KEYS[3 + i], 'b', 'h', 'pt')
    local can = tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3]) - charges[i]
    if can < 0 then can = 0 end
    local cap = tonumber(ARGV[4 + 2 * i])
    if cap >= 0 then
      local room = cap - charges[i]
      if room < 0 then room = 0 end
      if room < can then can = room end
    end
    local charge = math.min(can, remaining)
    charges[i] = charges[i] + charge
    remaining = remaining - charge
  end
end
if remaining > 0 then
  local last = tonumber(ARGV[3])
  charges[last] = charges[last] + remaining
end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
local out = {1}
for i = 1, n do
  if cost > 0 and charges[i] > 0 then
    local c = string.format('%d', charges[i])
    redis.call('HINCRBY', KEYS[3 + i], 'p:' .. ARGV[2], c)
    redis.call('HINCRBY', KEYS[3 + i], 'pt', c)
    redis.call('HINCRBY', KEYS[3 + i], 'sg', 1)
  end
  out[#out + 1] = string.format('%d', charges[i])
end
return out
