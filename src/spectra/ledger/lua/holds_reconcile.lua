-- KEYS: account key, written-log key. ARGV: fresh balance, ws at snapshot, sg at snapshot,
-- then the idempotency keys the database snapshot already has.
-- Returns 1 (applied), 0 (not loaded) or -1 (a settlement arrived meanwhile: read again).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'sg') ~= ARGV[3] then return -1 end
local written = {}
for i = 4, #ARGV do written[ARGV[i]] = true end
local balance = tonumber(ARGV[1])
local since = tonumber(ARGV[2])
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local seq, charge, key = string.match(entry, '^(%d+)|(%d+)|(.*)$')
  if tonumber(seq) <= since then break end
  if not written[key] then balance = balance - tonumber(charge) end
end
for key, _ in pairs(written) do
  local pending = redis.call('HGET', KEYS[1], 'p:' .. key)
  if pending then
    redis.call('HDEL', KEYS[1], 'p:' .. key)
    redis.call('HINCRBY', KEYS[1], 'pt', '-' .. pending)
  end
end
redis.call('HSET', KEYS[1], 'b', string.format('%d', balance))
return 1
