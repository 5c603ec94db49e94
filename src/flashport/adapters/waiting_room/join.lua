-- A batch of joins to one room, in order of arrival (adapters/waiting_room/redis.py).
-- KEYS[1] room hash, KEYS[2] places hash (buyer -> place, 0 in the pre-queue), KEYS[3] arrivals list,
-- KEYS[4..] the addresses' sorted sets (buyer -> join time, ms) named by the joins below
-- ARGV[1] now (ms), ARGV[2] start of the burst window (ms), ARGV[3] accounts per address (0: friction
-- off), ARGV[4] joins per address in the burst window, ARGV[5] now (unix seconds, as the cursor's time),
-- then per join: buyer, index into KEYS of its address's set (0: none), answer to the challenge ('0'
-- none, '1' right, '2' wrong)
-- Returns per join: its place (0: pre-queue), -1 held already, -2 challenge, -3 wrong answer.
-- Once the room is dealt, the cursor first moves on to now over the places dealt so far, as a refresh
-- would: time when nobody was left to admit is not saved up to admit the newcomers at once.
local at = redis.call('HGET', KEYS[1], 'at')
local dealt = at ~= false
if dealt and tonumber(ARGV[5]) > tonumber(at) then
  local c = redis.call('HMGET', KEYS[1], 'admitted', 'rate', 'places')
  local admitted, rate, places = tonumber(c[1]), tonumber(c[2]), tonumber(c[3])
  local moved = math.max(admitted, math.min(places, admitted + rate * (tonumber(ARGV[5]) - tonumber(at))))
  redis.call('HSET', KEYS[1], 'admitted', string.format('%.17g', moved), 'at', ARGV[5])
end
local friction = tonumber(ARGV[3]) > 0
local out, challenged, passed = {}, 0, 0
for i = 6, #ARGV, 3 do
  local buyer, from, answer = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local verdict = 0
  if redis.call('HEXISTS', KEYS[2], buyer) == 1 then
    verdict = -1
  elseif from > 0 and friction then
    local accounts = redis.call('ZCARD', KEYS[from])
    local recent = redis.call('ZCOUNT', KEYS[from], ARGV[2], '+inf')
    if accounts >= tonumber(ARGV[3]) or recent >= tonumber(ARGV[4]) then
      if answer == '0' then
        verdict = -2
        challenged = challenged + 1
      elseif answer == '2' then
        verdict = -3
      else
        passed = passed + 1
      end
    end
  end
  if verdict == 0 then
    local place = 0
    if dealt then place = redis.call('HINCRBY', KEYS[1], 'places', 1) end
    redis.call('HSET', KEYS[2], buyer, place)
    redis.call('RPUSH', KEYS[3], buyer)
    if from > 0 then redis.call('ZADD', KEYS[from], ARGV[1], buyer) end
    verdict = place
  end
  out[#out + 1] = verdict
end
if challenged > 0 then redis.call('HINCRBY', KEYS[1], 'challenged', challenged) end
if passed > 0 then redis.call('HINCRBY', KEYS[1], 'passed', passed) end
return out
