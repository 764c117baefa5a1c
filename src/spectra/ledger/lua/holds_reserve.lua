-- KEYS: holds zset, hold key, account keys (plan order). ARGV: amount, expiry ms, hold id,
-- then one cap per account (-1 = none). Returns {1, take...}, {0, coverable} or {-1, index}.
local amount = tonumber(ARGV[1])
local n = #KEYS - 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[2 + i]) == 0 then return {-1, i} end
end
local remaining = amount
local takes = {}
for i = 1, n do
  local v = redis.call('HMGET', KEYS[2 + i], 'b', 'h', 'pt')
  local can = tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3])
  if can < 0 then can = 0 end
  local cap = tonumber(ARGV[3 + i])
  if cap >= 0 and cap < can then can = cap end
  local take = math.min(can, remaining)
  takes[i] = take
  remaining = remaining - take
end
if remaining > 0 then return {0, string.format('%d', amount - remaining)} end
local parts = {}
local out = {1}
for i = 1, n do
  if takes[i] > 0 then
    redis.call('HINCRBY', KEYS[2 + i], 'h', string.format('%d', takes[i]))
    parts[#parts + 1] = KEYS[2 + i] .. '=' .. string.format('%d', takes[i])
  end
  out[#out + 1] = string.format('%d', takes[i])
end
redis.call('HSET', KEYS[2], 'parts', table.concat(parts, '|'), 'exp', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return out
