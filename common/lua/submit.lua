-- submit: create a job, store its input, queue it.
-- KEYS: 1 job, 2 input, 3 pending list (of its priority), 4 wake, 5 stats
-- ARGV: 1 id, 2 spec JSON, 3 input bytes, 4 ttl_ms, 5 keep_s, 6 queue,
--       7 priority (0 high, 1 normal, 2 low), 8 max_attempts, 9 submitter
-- Returns {1, "queued"} for a new job, {0, state} if the id exists.
-- Every argument is checked before anything is stored: a client in another
-- language may send anything. Numbers are stored in their plain form.
local function refuse(what, must, got)
  return redis.error_reply('ERR sandq submit: ' .. what .. ' must be ' .. must ..
    ', not "' .. string.sub(got or '', 1, 40) .. '"')
end
-- 1 to max of [A-Za-z0-9._:-], not starting with '.' or '-'.
local function name(v, max)
  return #v >= 1 and #v <= max and string.find(v, '^[%w_:][%w._:-]*$') ~= nil
end
if not name(ARGV[1], 128) then
  return refuse('id', '1-128 of [A-Za-z0-9._:-], not starting with "." or "-"', ARGV[1])
end
if not name(ARGV[6], 64) then
  return refuse('queue', '1-64 of [A-Za-z0-9._:-], not starting with "." or "-"', ARGV[6])
end
local n = {}
local checks = {
  {4, 'ttl_ms', 1, 31536000000}, {5, 'keep_s', 1, 315360000},
  {7, 'priority', 0, 2}, {8, 'max_attempts', 1, 100},
}
for _, c in ipairs(checks) do
  n[c[1]] = whole(ARGV[c[1]], c[3], c[4])
  if not n[c[1]] then
    return refuse(c[2], 'a whole number from ' .. c[3] .. ' to ' ..
      string.format('%.0f', c[4]), ARGV[c[1]])
  end
end
-- The keys must be this job's: a job stored under another id, queue or
-- priority would be popped by no one, or under a name no one asks for.
local P = 'sandq:{' .. ARGV[6] .. '}:'
local want = {P .. 'job:' .. ARGV[1], P .. 'input:' .. ARGV[1],
  P .. 'pending:' .. string.format('%d', n[7]), P .. 'wake', P .. 'stats'}
for i = 1, 5 do
  if KEYS[i] ~= want[i] then
    return refuse('KEYS[' .. i .. ']', '"' .. want[i] .. '"', KEYS[i])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'state') or 'unknown'}
end
local now = now_ms()
local ttl, keep = n[4], n[5]
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'queue', ARGV[6], 'state', 'queued',
  'spec', ARGV[2], 'priority', string.format('%d', n[7]), 'created_at', now,
  'expires_at', string.format('%.0f', now + ttl), 'attempts', 0, 'reclaims', 0,
  'max_attempts', string.format('%d', n[8]), 'input_bytes', #ARGV[3],
  'keep_s', string.format('%.0f', keep), 'submitter', ARGV[9], 'fence', 0)
redis.call('SET', KEYS[2], ARGV[3])
-- Bounded even if no worker ever comes: gone after the TTL plus retention.
local hold = math.floor(ttl / 1000) + keep
redis.call('EXPIRE', KEYS[1], hold)
redis.call('EXPIRE', KEYS[2], hold)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[1])
redis.call('LTRIM', KEYS[4], 0, 63)
redis.call('HINCRBY', KEYS[5], 'submitted', 1)
return {1, 'queued'}
