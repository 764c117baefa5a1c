-- KEYS: pairs (account key, written-log key). ARGV: idempotency key, log length, charges.
local key = ARGV[1]
for i = 1, #KEYS / 2 do
  local acct = KEYS[2 * i - 1]
  local pending = redis.call('HGET', acct, 'p:' .. key)
  if pending then
    redis.call('HDEL', acct, 'p:' .. key)
    redis.call('HINCRBY', acct, 'pt', '-' .. pending)
    local charge = ARGV[2 + i]
    redis.call('HINCRBY', acct, 'b', '-' .. charge)
    local seq = redis.call('HINCRBY', acct, 'ws', 1)
    redis.call('LPUSH', KEYS[2 * i], seq .. '|' .. charge .. '|' .. key)
    redis.call('LTRIM', KEYS[2 * i], 0, tonumber(ARGV[2]) - 1)
  end
end
return 1
