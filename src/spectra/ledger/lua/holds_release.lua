return release(KEYS[1], KEYS[2], ARGV[1])
