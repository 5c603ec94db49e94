-- Undo a reservation whose order could not be written: give the units back and free the idempotency
-- key, but only if the key still names this order (a later, successful retry keeps its own).
-- KEYS[1] units taken, KEYS[2] buyer hash, KEYS[3] idempotency key
-- ARGV: buyer id, units, order id
if redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return 0
end
redis.call('DEL', KEYS[3])
local units = tonumber(ARGV[2])
redis.call('DECRBY', KEYS[1], units)
if redis.call('HINCRBY', KEYS[2], ARGV[1], -units) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
