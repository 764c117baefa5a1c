-- Grant a process's lease (holds_lease.py) more of an account's available money, atomically.
-- A lease is an ordinary hold with one part, so it never overlaps available money and the
-- sweep releases it when its process stops renewing it.
-- KEYS: holds zset, lease hold key, account key.
-- ARGV: want, least (grant nothing below this), expiry ms, lease id, must exist (1/0),
--       share (grant at most available / share).
-- Returns {1, grant, lease amount, available after}, {-1} (account not loaded) or
-- {-2} (the lease was expected to exist and does not: swept).
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local exists = redis.call('EXISTS', KEYS[2]) == 1
if ARGV[5] == '1' and not exists then return {-2} end
local v = redis.call('HMGET', KEYS[3], 'b', 'h', 'pt')
local avail = tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3])
local want = tonumber(ARGV[1])
local room = math.floor(avail / tonumber(ARGV[6]))
if want > room then want = room end
local grant = 0
if want >= tonumber(ARGV[2]) and want > 0 then grant = want end
local amount = 0
if exists then
  amount = tonumber(string.match(redis.call('HGET', KEYS[2], 'parts'), '=(%d+)$'))
end
if grant > 0 then
  redis.call('HINCRBY', KEYS[3], 'h', string.format('%d', grant))
  amount = amount + grant
end
if exists or grant > 0 then
  redis.call('HSET', KEYS[2], 'parts', KEYS[3] .. '=' .. string.format('%d', amount), 'exp', ARGV[3])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
end
return {1, string.format('%d', grant), string.format('%d', amount), string.format('%d', avail - grant)}
