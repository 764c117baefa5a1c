-- KEYS: account keys. ARGV: idempotency key.
for i = 1, #KEYS do
  local pending = redis.call('HGET', KEYS[i], 'p:' .. ARGV[1])
  if pending then
    redis.call('HDEL', KEYS[i], 'p:' .. ARGV[1])
    redis.call('HINCRBY', KEYS[i], 'pt', '-' .. pending)
  end
end
return 1
