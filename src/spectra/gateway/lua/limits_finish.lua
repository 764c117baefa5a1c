local t = redis.call('TIME')
local delta = tonumber(ARGV[2])
for i = 1, #KEYS / 2 do
  redis.call('ZREM', KEYS[2 * i], ARGV[1])
  if delta ~= 0 and redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    redis.call('HINCRBY', KEYS[2 * i - 1], t[1], delta)
  end
end
return 1
