-- Deal the pre-queue its places at the start, once (adapters/waiting_room/redis.py).
-- KEYS[1] room hash, KEYS[2] places hash, KEYS[3] arrivals list
-- ARGV[1] now (unix seconds), ARGV[2] the admission rate, ARGV[3] how many were drawn, ARGV[4..] the
-- buyers in the order the caller's cryptographic shuffle drew (place 1 first)
-- Returns 1 dealt now, 0 dealt before (nothing changes), -1 the pre-queue changed since it was read
-- (draw again).
if redis.call('HEXISTS', KEYS[1], 'at') == 1 then return 0 end
if redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[3]) then return -1 end
for i = 4, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], i - 3) end
redis.call('HSET', KEYS[1], 'admitted', '0', 'at', ARGV[1], 'rate', ARGV[2], 'places', ARGV[3],
  'shuffled_at', ARGV[1], 'pre_queue', ARGV[3])
return 1
