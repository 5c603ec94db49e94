-- Move the admission cursor on, if no other process moved it since it was read (adapters/waiting_room/
-- redis.py). The places dealt meanwhile are the joins' (HINCRBY): never written here.
-- KEYS[1] room hash
-- ARGV[1] the cursor's time as read, ARGV[2] admitted, ARGV[3] its new time, ARGV[4] rate,
-- ARGV[5] units left at the automatic rate's mark ('' none), ARGV[6] the mark's time
-- Returns 1 moved, 0 another process moved it first.
if redis.call('HGET', KEYS[1], 'at') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'admitted', ARGV[2], 'at', ARGV[3], 'rate', ARGV[4])
if ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], 'mark', 'mark_at')
else
  redis.call('HSET', KEYS[1], 'mark', ARGV[5], 'mark_at', ARGV[6])
end
return 1
