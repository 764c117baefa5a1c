-- KEYS: account key. Returns {ws, sg, pending keys...} or {} when not loaded.
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local out = {redis.call('HGET', KEYS[1], 'ws'), redis.call('HGET', KEYS[1], 'sg')}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 'p:' then out[#out + 1] = string.sub(field, 3) end
end
return out
