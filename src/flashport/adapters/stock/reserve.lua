-- Reserve units of one sale item for one or more purchases, atomically (rules 1, 2, 4 and 7 in one
-- step). The purchases are judged one after another, in the order given, exactly as separate calls
-- would judge them; batching them only saves round trips under a rush.
-- Every key carries the item's hash tag {..:item:ID}, so on Redis Cluster they share one slot.
-- KEYS[1] meta hash (quantity, limit, starts_ms, ends_ms, open)
-- KEYS[2] units taken (reserved + sold)
-- KEYS[3] hash buyer id -> units in live orders
-- KEYS[4] sorted set of recent reservations: "order id|buyer|units|idempotency key name", scored by
--         Redis's own clock (ms); the worker's orphan sweep reads it (redis.py, "orphans")
-- KEYS[4 + i] idempotency key of purchase i -> order id of the reservation it made
-- ARGV[1] now (ms), ARGV[2] idempotency ttl (ms), then per purchase i: buyer id, units, new order id
-- Returns status, value for each purchase, flattened: "ok" remaining | "duplicate" order id |
-- "sold_out" remaining | "buyer_limit_reached" units still allowed |
-- "sale_not_started" | "sale_ended" | "unknown" (value 0)
local count = #KEYS - 4
local clock = nil
local out = {}
local meta = redis.call('HMGET', KEYS[1], 'quantity', 'limit', 'starts_ms', 'ends_ms', 'open')
local closed = nil
if not meta[1] then
  closed = 'unknown'
else
  local now = tonumber(ARGV[1])
  if meta[5] ~= '1' then
    if now >= tonumber(meta[3]) then closed = 'sale_ended' else closed = 'sale_not_started' end
  elseif now < tonumber(meta[3]) then
    closed = 'sale_not_started'
  elseif now >= tonumber(meta[4]) then
    closed = 'sale_ended'
  end
end
local quantity, limit = tonumber(meta[1]), tonumber(meta[2])
local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
for i = 1, count do
  local base = 3 * i
  local existing = redis.call('GET', KEYS[4 + i])
  if existing then
    out[#out + 1] = 'duplicate'
    out[#out + 1] = existing
  elseif closed then
    out[#out + 1] = closed
    out[#out + 1] = 0
  else
    local buyer, units = ARGV[base], tonumber(ARGV[base + 1])
    if taken + units > quantity then
      out[#out + 1] = 'sold_out'
      out[#out + 1] = quantity - taken
    else
      local mine = tonumber(redis.call('HGET', KEYS[3], buyer) or '0')
      if mine + units > limit then
        out[#out + 1] = 'buyer_limit_reached'
        out[#out + 1] = limit - mine
      else
        taken = redis.call('INCRBY', KEYS[2], units)
        redis.call('HINCRBY', KEYS[3], buyer, units)
        redis.call('SET', KEYS[4 + i], ARGV[base + 2], 'PX', ARGV[2])
        if not clock then
          local t = redis.call('TIME')
          clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        redis.call('ZADD', KEYS[4], clock, ARGV[base + 2] .. '|' .. buyer .. '|' .. units .. '|' .. KEYS[4 + i])
        out[#out + 1] = 'ok'
        out[#out + 1] = quantity - taken
      end
    end
  end
end
return out
