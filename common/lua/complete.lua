-- complete: record a verdict, fenced by the lease token.
-- KEYS: 1 job, 2 result
-- ARGV: 1 prefix, 2 id, 3 token, 4 status, 5 message, 6 result bytes,
--       7 retry backoff ms (for system_error), then field pairs
-- Returns "done", "retry", "dead", "cancelled" (a system_error of a job
-- flagged cancelled, recorded as cancelled) or "stale" (the lease is not
-- ours).
local P, id = ARGV[1], ARGV[2]
local j = redis.call('HMGET', KEYS[1], 'state', 'lease', 'attempts', 'max_attempts', 'keep_s',
  'cancel')
if j[1] ~= 'running' or j[2] ~= ARGV[3] then return 'stale' end
-- The live output of this run has served: the result (or the next run's
-- own stream) has it now.
redis.call('DEL', P .. 'live:' .. id)
local fields = {}
for i = 8, #ARGV, 2 do fields[#fields + 1] = ARGV[i]; fields[#fields + 1] = ARGV[i + 1] end
if ARGV[4] == 'system_error' then
  -- A job cancelled meanwhile is not run again.
  if j[6] == '1' then
    finalize(P, id, 'cancelled', 'the job was cancelled (its run had ended in a system ' ..
      'error: ' .. ARGV[5] .. ')', fields, false)
    return 'cancelled'
  end
  if tonumber(j[3]) < tonumber(j[4]) then
    local now = now_ms()
    redis.call('HSET', KEYS[1], 'state', 'queued', 'last_error', ARGV[5])
    redis.call('HDEL', KEYS[1], 'lease', 'lease_until', 'worker')
    redis.call('ZREM', P .. 'running', id)
    redis.call('ZADD', P .. 'delayed', now + tonumber(ARGV[7]), id)
    redis.call('HINCRBY', P .. 'stats', 'retries', 1)
    notify(P, id, 'queued')
    return 'retry'
  end
  finalize(P, id, 'system_error',
    ARGV[5] .. ' (gave up after ' .. j[3] .. ' attempts)', fields, true)
  return 'dead'
end
if #ARGV[6] > 0 then
  redis.call('SET', KEYS[2], ARGV[6], 'EX', tonumber(j[5] or '259200'))
end
finalize(P, id, ARGV[4], ARGV[5], fields, false)
return 'done'
