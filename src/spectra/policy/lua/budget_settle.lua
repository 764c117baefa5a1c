-- Turn a reservation into spend (or drop it when ARGV[3] is 0), atomically (budget_redis.py).
-- KEYS: m reservation sets, then the spent counters to add to (only those that exist: a
-- missing counter is loaded from the database, which has the cost, on its next check).
-- ARGV: m, member, cost micros.
local m = tonumber(ARGV[1])
local cost = tonumber(ARGV[3])
for j = 1, m do redis.call('ZREM', KEYS[j], ARGV[2]) end
if cost > 0 then
  for i = m + 1, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], cost) end
  end
end
return 0
