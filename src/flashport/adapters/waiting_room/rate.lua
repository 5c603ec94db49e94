-- The operator set a fixed rate: the cursor moves to now at the old rate (never past the last place
-- dealt, never back), then goes on at the new one (adapters/waiting_room/redis.py).
-- KEYS[1] room hash; ARGV[1] now (unix seconds), ARGV[2] the new rate
-- Returns 1 changed, 0 no cursor yet (the deal starts it at the terms' rate).
local at = redis.call('HGET', KEYS[1], 'at')
if not at then return 0 end
local c = redis.call('HMGET', KEYS[1], 'admitted', 'rate', 'places')
local admitted, rate, places = tonumber(c[1]), tonumber(c[2]), tonumber(c[3])
local now = tonumber(ARGV[1])
local moved = admitted
if now > tonumber(at) then
  moved = math.max(admitted, math.min(places, admitted + rate * (now - tonumber(at))))
  at = ARGV[1]
end
redis.call('HSET', KEYS[1], 'admitted', string.format('%.17g', moved), 'at', at, 'rate', ARGV[2])
return 1
