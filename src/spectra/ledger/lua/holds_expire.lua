-- KEYS: holds zset. ARGV: now ms, batch size, hold key prefix.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  n = n + release(KEYS[1], ARGV[3] .. id, id)
end
return n
