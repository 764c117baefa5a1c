-- Give part of a lease back to its account's available money (holds_lease.py).
-- KEYS: holds zset, lease hold key, account key. ARGV: by, lease id.
-- Returns the lease's amount after, or -1 when it no longer exists (swept).
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local amount = tonumber(string.match(redis.call('HGET', KEYS[2], 'parts'), '=(%d+)$'))
local by = tonumber(ARGV[1])
if by > amount then by = amount end
amount = amount - by
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'h', string.format('%d', -by))
end
if amount == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[2], 'parts', KEYS[3] .. '=' .. string.format('%d', amount))
end
return amount
