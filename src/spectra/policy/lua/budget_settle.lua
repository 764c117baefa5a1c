-- Turn a reservation into spend (or drop it when ARGV[3] is 0), atomically (budget_redis.py).
-- KEYS: m reservation sets; with a cost, then the request's settled marker and the spent
-- counters to add to (only those that exist: a missing counter is loaded from the usage
-- records on its next check). The marker makes a replayed settlement count once.
-- ARGV: m, member, cost micros.
local m = tonumber(ARGV[1])
local cost = tonumber(ARGV[3])
for j = 1, m do redis.call('ZREM', KEYS[j], ARGV[2]) end
if cost > 0 then
  if not redis.call('SET', KEYS[m + 1], 1, 'NX', 'EX', 86400) then return 0 end
  for i = m + 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], cost) end
  end
end
return 1
