-- Return an order's units, exactly once per order (a crash-and-retry finds the marker and does nothing).
-- KEYS[1] units taken, KEYS[2] buyer hash, KEYS[3] release marker for this order, KEYS[4] the item's terms
-- ARGV: buyer id, units, marker ttl (ms)
-- Returns 1 when released now, 0 when it had been released before or the item is not loaded: after
-- Redis lost the item, its counts are rebuilt from the database, where this order no longer holds
-- units, so taking them off counts that do not exist yet would leave "taken" below the truth.
if redis.call('EXISTS', KEYS[4]) == 0 then
  return 0
end
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
  return 0
end
local units = tonumber(ARGV[2])
redis.call('DECRBY', KEYS[1], units)
if redis.call('HINCRBY', KEYS[2], ARGV[1], -units) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
