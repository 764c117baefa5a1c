if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'h', '0', 'pt', '0', 'sg', '0', 'ws', '0')
return 1
