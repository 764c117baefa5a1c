local function release(holds, hold_key, hold_id)
  local parts = redis.call('HGET', hold_key, 'parts')
  if not parts then
    redis.call('ZREM', holds, hold_id)
    return 0
  end
  for key, take in string.gmatch(parts, '([^|=]+)=(%d+)') do
    if redis.call('EXISTS', key) == 1 then
      redis.call('HINCRBY', key, 'h', '-' .. take)
    end
  end
  redis.call('DEL', hold_key)
  redis.call('ZREM', holds, hold_id)
  return 1
end
