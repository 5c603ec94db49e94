-- Lock KEYS[1] until ARGV[2] (ms since the epoch), unless it is locked until later already.
-- ARGV[1]: now (ms). The key holds the moment the lock ends, and expires then.
-- Returns the moment the lock ends.
local now, wanted = tonumber(ARGV[1]), tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if current >= wanted then return tostring(current) end
redis.call('SET', KEYS[1], string.format('%.0f', wanted), 'PX', math.max(1, math.ceil(wanted - now)))
return tostring(wanted)
