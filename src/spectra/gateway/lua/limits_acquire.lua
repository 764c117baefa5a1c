local t = redis.call('TIME')
local now = tonumber(t[1])
local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = tonumber(ARGV[1])
local n = #KEYS / 3
local edge = now - 60
local function window(key)
  local sum, oldest = 0, nil
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local sec = tonumber(flat[i])
    if sec <= edge then
      redis.call('HDEL', key, flat[i])
    else
      sum = sum + tonumber(flat[i + 1])
      if oldest == nil or sec < oldest then oldest = sec end
    end
  end
  return sum, oldest
end
for i = 1, n do
  local r, tk, c = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local rpm, tpm, conc = tonumber(ARGV[4 + 3 * i - 2]), tonumber(ARGV[4 + 3 * i - 1]), tonumber(ARGV[4 + 3 * i])
  redis.call('ZREMRANGEBYSCORE', c, '-inf', now_ms)
  if conc >= 0 and redis.call('ZCARD', c) >= conc then return {1, i, 1} end
  local count, oldest_r = window(r)
  if rpm >= 0 and count >= rpm then return {2, i, math.max(1, oldest_r + 60 - now)} end
  local used, oldest_t = window(tk)
  if tpm >= 0 and used + tokens > tpm and oldest_t ~= nil then
    return {3, i, math.max(1, oldest_t + 60 - now)}
  end
end
for i = 1, n do
  local r, tk, c = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('HINCRBY', r, now, 1)
  redis.call('HINCRBY', tk, now, tokens)
  redis.call('ZADD', c, now_ms + tonumber(ARGV[3]) * 1000, ARGV[2])
  redis.call('EXPIRE', r, 120)
  redis.call('EXPIRE', tk, 120)
  redis.call('EXPIRE', c, tonumber(ARGV[3]) + 60)
end
return {0}
