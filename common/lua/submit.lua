-- submit: create a job, store its input, queue it.
-- KEYS: 1 job, 2 input, 3 pending list (of its priority), 4 wake, 5 stats
-- ARGV: 1 id, 2 spec JSON, 3 input bytes, 4 ttl_ms, 5 keep_s, 6 queue,
--       7 priority (0 high, 1 normal, 2 low), 8 max_attempts, 9 submitter
-- Returns {1, "queued"} for a new job, {0, state} if the id exists.
-- Every number is checked before anything is stored: a client in another
-- language may send anything.
local function whole(v, lo, hi)
  local n = tonumber(v)
  if n == nil or n ~= math.floor(n) or n < lo or n > hi then return nil end
  return n
end
local checks = {
  {4, 'ttl_ms', 1, 31536000000}, {5, 'keep_s', 1, 315360000},
  {7, 'priority', 0, 2}, {8, 'max_attempts', 1, 100},
}
for _, c in ipairs(checks) do
  if not whole(ARGV[c[1]], c[3], c[4]) then
    return redis.error_reply('ERR sandq submit: ' .. c[2] .. ' must be a whole number from ' ..
      c[3] .. ' to ' .. string.format('%.0f', c[4]) .. ', not "' .. string.sub(ARGV[c[1]], 1, 40) .. '"')
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'state') or 'unknown'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'queue', ARGV[6], 'state', 'queued',
  'spec', ARGV[2], 'priority', ARGV[7], 'created_at', now,
  'expires_at', now + ttl, 'attempts', 0, 'reclaims', 0,
  'max_attempts', ARGV[8], 'input_bytes', #ARGV[3], 'keep_s', ARGV[5],
  'submitter', ARGV[9], 'fence', 0)
redis.call('SET', KEYS[2], ARGV[3])
-- Bounded even if no worker ever comes: gone after the TTL plus retention.
local hold = math.floor(ttl / 1000) + tonumber(ARGV[5])
redis.call('EXPIRE', KEYS[1], hold)
redis.call('EXPIRE', KEYS[2], hold)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[1])
redis.call('LTRIM', KEYS[4], 0, 63)
redis.call('HINCRBY', KEYS[5], 'submitted', 1)
return {1, 'queued'}
