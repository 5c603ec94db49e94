-- Token buckets (GCRA) for every request that asked within one turn of a process's event loop.
-- KEYS: the bucket keys of every request, request after request.
-- ARGV[1]: now (ms since the epoch); ARGV[2]: how many requests; then per request: its number of
-- buckets n, then n pairs (interval ms, period ms).
-- Returns per request the ms to wait: 0 when every bucket of it took a token, else none did.
-- A key holds the theoretical arrival time (ms) of its bucket's next request and expires once the
-- bucket is full again. Intervals may be fractions of a millisecond (a bucket of 100,000/1).
local now = tonumber(ARGV[1])
local requests = tonumber(ARGV[2])
local a, k = 3, 1
local out = {}
for r = 1, requests do
  local n = tonumber(ARGV[a])
  a = a + 1
  local wait = 0
  local tats = {}
  for i = 0, n - 1 do
    local interval = tonumber(ARGV[a + 2 * i])
    local period = tonumber(ARGV[a + 2 * i + 1])
    local tat = tonumber(redis.call('GET', KEYS[k + i]) or 0)
    if tat < now then tat = now end
    local new = tat + interval
    local over = new - now - period
    if over > wait then wait = over end
    tats[i + 1] = new
  end
  if wait <= 0 then
    for i = 0, n - 1 do
      redis.call('SET', KEYS[k + i], string.format('%.3f', tats[i + 1]), 'PX', math.max(1, math.ceil(tats[i + 1] - now)))
    end
  end
  out[r] = math.ceil(wait)
  a = a + 2 * n
  k = k + n
end
return out
