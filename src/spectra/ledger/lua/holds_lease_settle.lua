-- Settle a hold a process took from its leases (holds_lease.py): holds_settle.lua's rules, the
-- process having charged what its leases cover (the hold's parts, then the excess from the
-- leases' unused part in plan order); the rest of the excess is charged here from what each
-- source still has available, then to the last source the hold used.
-- KEYS: holds zset, account keys (plan order, n), lease hold keys (n, one per account).
-- ARGV: cost, idempotency key, last index, expiry ms (the leases are renewed meanwhile),
--       then per account: cap (-1 none), charge from the lease (0 if none), lease id.
-- Returns {1, charge..., lease amount...} (lease amount -1: swept, its charge was taken from
-- what the account has available instead) or {-1, index} (account not loaded).
local cost = tonumber(ARGV[1])
local n = (#KEYS - 1) / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[1 + i]) == 0 then return {-1, i} end
end
local charges = {}
local amounts = {}
local remaining = cost
for i = 1, n do
  charges[i] = 0
  amounts[i] = -1
  local take = tonumber(ARGV[3 + 3 * i])
  local lease = KEYS[1 + n + i]
  if redis.call('EXISTS', lease) == 1 then
    local amount = tonumber(string.match(redis.call('HGET', lease, 'parts'), '=(%d+)$'))
    if take > amount then take = amount end
    if take > remaining then take = remaining end
    amount = amount - take
    if take > 0 then
      redis.call('HINCRBY', KEYS[1 + i], 'h', string.format('%d', -take))
    end
    redis.call('HSET', lease, 'parts', KEYS[1 + i] .. '=' .. string.format('%d', amount), 'exp', ARGV[4])
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[4 + 3 * i])
    amounts[i] = amount
    charges[i] = take
    remaining = remaining - take
  end
end
if remaining > 0 then
  for i = 1, n do
    if remaining == 0 then break end
    local v = redis.call('HMGET', KEYS[1 + i], 'b', 'h', 'pt')
    local can = tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3]) - charges[i]
    if can < 0 then can = 0 end
    local cap = tonumber(ARGV[2 + 3 * i])
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
local out = {1}
for i = 1, n do
  if cost > 0 and charges[i] > 0 then
    local c = string.format('%d', charges[i])
    redis.call('HINCRBY', KEYS[1 + i], 'p:' .. ARGV[2], c)
    redis.call('HINCRBY', KEYS[1 + i], 'pt', c)
    redis.call('HINCRBY', KEYS[1 + i], 'sg', 1)
  end
  out[#out + 1] = string.format('%d', charges[i])
end
for i = 1, n do out[#out + 1] = string.format('%d', amounts[i]) end
return out
