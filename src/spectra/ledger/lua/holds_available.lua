local out = {}
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'b', 'h', 'pt')
  if not v[1] then
    out[i] = false
  else
    out[i] = string.format('%d', tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3]))
  end
end
return out
