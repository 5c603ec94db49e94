-- Orders just committed: put each one's purchase under its idempotency key (SavedPurchase), so a retry
-- in any process is answered without the database and forget.lua can no longer give its units back.
-- A key that no longer exists means Redis lost the reservation while the order was being written (the
-- item was flushed or restarted empty and rebuilt from the database, or a failover lost the last
-- writes): a rebuild reads its counters and keys from one snapshot of the database, so an order it
-- counted has its key back, and an order with no key was committed after that snapshot and is counted
-- nowhere. It is counted here, or, while a rebuild is under way (its lock held, no terms yet), left on
-- the item's "late" list for the rebuild to count when it finishes (rebuilt.lua).
-- KEYS[1] meta hash, KEYS[2] units taken, KEYS[3] buyer hash, KEYS[4] late list, KEYS[5] rebuild lock,
-- KEYS[5 + i] idempotency key of order i
-- ARGV[1] idempotency ttl (ms), then per order i: order id, saved purchase, buyer id, units
-- Returns the number of orders counted here (0 in the common case).
local loaded = redis.call('EXISTS', KEYS[1]) == 1
local rebuilding = (not loaded) and redis.call('EXISTS', KEYS[5]) == 1
local counted = 0
for i = 1, #KEYS - 5 do
  local base = 4 * i - 2
  local key = KEYS[5 + i]
  local held = redis.call('GET', key)
  if held == ARGV[base] then
    redis.call('SET', key, ARGV[base + 1], 'KEEPTTL')
  elseif not held then
    if loaded then
      local units = tonumber(ARGV[base + 3])
      redis.call('INCRBY', KEYS[2], units)
      redis.call('HINCRBY', KEYS[3], ARGV[base + 2], units)
      redis.call('SET', key, ARGV[base + 1], 'PX', ARGV[1])
      counted = counted + 1
    elseif rebuilding then
      redis.call('RPUSH', KEYS[4], cjson.encode({key, ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]}))
    end
  end
end
return counted
