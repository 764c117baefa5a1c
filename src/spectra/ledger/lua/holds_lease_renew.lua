-- Push back the expiry of this process's leases (holds_lease.py).
-- KEYS: holds zset, lease hold keys. ARGV: expiry ms, lease ids.
-- Returns one flag per lease: 1 renewed, 0 gone (swept: the process must stop using it).
local out = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HSET', KEYS[i], 'exp', ARGV[1])
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
