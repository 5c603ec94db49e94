-- Token buckets (GCRA) for every request that asked within one turn of a process's event loop.
-- KEYS: the bucket keys of every request, request after request.
-- ARGV[1]: now (ms since the epoch); ARGV[2]: how many requests; then per request: its number of
-- buckets n, then n pairs (interval ms, period ms).
-- Returns per request the ms to wait: 0 when every bucket of it took a token, else none did.
-- A key holds the theoretical arrival time (ms) of its bucket's next request and expires once the
-- bucket is full again. Intervals may be fractions of a millisecond (a bucket of 100,000/1).
-- The requests are judged one after another, exactly as separate calls would judge them; a key that
-- several requests of the call share (one address, many buyers) is read once and written once, at the
-- end, with its last value.
local now = tonumber(ARGV[1])
local requests = tonumber(ARGV[2])
local a, k = 3, 1
local out = {}
local tat_of = {}   -- key -> TAT as this call has it so far
local changed = {}  -- keys to write back, in the order first changed
for r = 1, requests do
  local n = tonumber(ARGV[a])
  a = a + 1
  local wait = 0
  local tats = {}
  for i = 0, n - 1 do
    local key = KEYS[k + i]
    local interval = tonumber(ARGV[a + 2 * i])
    local period = tonumber(ARGV[a + 2 * i + 1])
    local tat = tat_of[key]
    if tat == nil then
      tat = tonumber(redis.call('GET', key) or 0)
      tat_of[key] = tat
    end
    if tat < now then tat = now end
    local new = tat + interval
    local over = new - now - period
    if over > wait then wait = over end
    tats[i + 1] = new
  end
  if wait <= 0 then
    for i = 0, n - 1 do
      local key = KEYS[k + i]
      if changed[key] == nil then
        changed[key] = true
        changed[#changed + 1] = key
      end
      tat_of[key] = tats[i + 1]
    end
  end
  out[r] = math.ceil(wait)
  a = a + 2 * n
  k = k + n
end
for i = 1, #changed do
  local key = changed[i]
  local tat = tat_of[key]
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
end
return out
