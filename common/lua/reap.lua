-- reap: requeue the jobs whose lease ran out (their worker died or hung).
-- KEYS: 1 running
-- ARGV: 1 prefix, 2 max_reclaims
-- Returns {requeued, dead-lettered, cancelled}.
local P = ARGV[1]
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
local rq, dead, cancelled = 0, 0, 0
for _, id in ipairs(expired) do
  local jk = P .. 'job:' .. id
  local j = redis.call('HMGET', jk, 'state', 'reclaims', 'cancel', 'worker')
  if j[1] ~= 'running' then
    redis.call('ZREM', KEYS[1], id)
  elseif j[3] == '1' then
    finalize(P, id, 'cancelled', 'the job was cancelled', nil, false)
    cancelled = cancelled + 1
  else
    local n = tonumber(j[2] or '0') + 1
    redis.call('HSET', jk, 'reclaims', n)
    redis.call('HINCRBY', P .. 'stats', 'reclaims', 1)
    if n > tonumber(ARGV[2]) then
      finalize(P, id, 'system_error', 'the workers running this job died ' .. n ..
        ' times; it was set aside as a poison pill', nil, true)
      dead = dead + 1
    else
      redis.call('HSET', jk, 'state', 'queued', 'last_error',
        'worker ' .. (j[4] or '?') .. ' stopped renewing its lease')
      redis.call('HDEL', jk, 'lease', 'lease_until', 'worker')
      redis.call('ZREM', KEYS[1], id)
      requeue_front(P, id)
      notify(P, id, 'queued')
      rq = rq + 1
    end
  end
end
return {rq, dead, cancelled}
