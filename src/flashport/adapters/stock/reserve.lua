-- Reserve units of one sale item, atomically (rules 1, 2, 4 and 7 in one step).
-- Every key carries the item's hash tag {..:item:ID}, so on Redis Cluster they share one slot.
-- KEYS[1] meta hash (quantity, limit, starts_ms, ends_ms, open)
-- KEYS[2] units taken (reserved + sold)
-- KEYS[3] hash buyer id -> units in live orders
-- KEYS[4] idempotency key -> order id of the reservation it made
-- ARGV: buyer id, units, now (ms), new order id, idempotency ttl (ms)
-- Returns {status, value}: {"ok", remaining} {"duplicate", order id} {"sold_out", remaining}
-- {"buyer_limit_reached", units still allowed} {"sale_not_started"|"sale_ended"|"unknown", 0}
local existing = redis.call('GET', KEYS[4])
if existing then
  return {'duplicate', existing}
end
local meta = redis.call('HMGET', KEYS[1], 'quantity', 'limit', 'starts_ms', 'ends_ms', 'open')
if not meta[1] then
  return {'unknown', 0}
end
local quantity, limit = tonumber(meta[1]), tonumber(meta[2])
local now, units = tonumber(ARGV[3]), tonumber(ARGV[2])
if meta[5] ~= '1' then
  if now >= tonumber(meta[3]) then return {'sale_ended', 0} end
  return {'sale_not_started', 0}
end
if now < tonumber(meta[3]) then return {'sale_not_started', 0} end
if now >= tonumber(meta[4]) then return {'sale_ended', 0} end
local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
if taken + units > quantity then
  return {'sold_out', quantity - taken}
end
local mine = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if mine + units > limit then
  return {'buyer_limit_reached', limit - mine}
end
redis.call('INCRBY', KEYS[2], units)
redis.call('HINCRBY', KEYS[3], ARGV[1], units)
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5])
return {'ok', quantity - taken - units}
