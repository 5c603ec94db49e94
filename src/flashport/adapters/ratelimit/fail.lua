-- One failed log-in. KEYS[1]: the failure counter.
-- ARGV[1]: ms the failures are kept after the last one. Returns the failures counted so far.
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
