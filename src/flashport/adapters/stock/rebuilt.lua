-- The last step of writing an item's terms (sync_items): after a rebuild, count the orders committed
-- after its snapshot whose keys saved.lua found missing while the rebuild was under way, then write
-- the terms (from then on the item is open to purchases and saved.lua counts late orders itself) and
-- free the rebuild lock.
-- KEYS[1] meta hash, KEYS[2] units taken, KEYS[3] buyer hash, KEYS[4] late list, KEYS[5] rebuild lock,
-- KEYS[5 + i] idempotency key of late entry i
-- ARGV[1] idempotency ttl (ms), ARGV[2] lock token, ARGV[3] number of late entries n, then per entry i:
-- its order id, saved purchase, buyer id, units; then the terms as field, value pairs
-- Returns the number of late orders counted, or -1 when more entries arrived than were given (read the
-- list again and call once more: nothing was written).
local n = tonumber(ARGV[3])
if redis.call('LLEN', KEYS[4]) ~= n then
  return -1
end
local counted = 0
for i = 1, n do
  local base = 4 + 4 * (i - 1)
  local key = KEYS[5 + i]
  local held = redis.call('GET', key)
  if not held then
    local units = tonumber(ARGV[base + 3])
    redis.call('INCRBY', KEYS[2], units)
    redis.call('HINCRBY', KEYS[3], ARGV[base + 2], units)
    redis.call('SET', key, ARGV[base + 1], 'PX', ARGV[1])
    counted = counted + 1
  elseif held == ARGV[base] then
    redis.call('SET', key, ARGV[base + 1], 'KEEPTTL')  -- in the snapshot: counted, its key restored
  end
end
redis.call('DEL', KEYS[4])
local terms = {}
for i = 4 + 4 * n, #ARGV do terms[#terms + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(terms))
if redis.call('GET', KEYS[5]) == ARGV[2] then redis.call('DEL', KEYS[5]) end
return counted
