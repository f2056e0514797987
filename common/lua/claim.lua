-- claim: take the next job of one queue and lease it to a worker.
-- KEYS: 1 pending:0, 2 pending:1, 3 pending:2, 4 running, 5 delayed,
--       6 paused
-- ARGV: 1 prefix "sandq:{Q}:", 2 worker id, 3 lease_ms
-- Returns {"job", id, token, spec, input, attempts, created_at} or {"none"} or
-- {"paused"}. Stale entries (expired, cancelled, missing jobs) are dropped
-- or finalized on the way. With nothing queued, it empties P wake.
local P = ARGV[1]
if redis.call('EXISTS', KEYS[6]) == 1 then return {'paused'} end
local now = now_ms()
-- Retries whose backoff has passed go back to their pending list.
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[5], id)
  local prio = whole(redis.call('HGET', P .. 'job:' .. id, 'priority'), 0, 2) or 1
  redis.call('RPUSH', P .. 'pending:' .. prio, id)
end
for i = 1, 3 do
  while true do
    local id = redis.call('LPOP', KEYS[i])
    if not id then break end
    local jk = P .. 'job:' .. id
    local j = redis.call('HMGET', jk, 'state', 'expires_at', 'spec', 'attempts', 'created_at',
      'max_attempts', 'keep_s', 'cancel')
    -- A record written by hand may be malformed: it ends rejected, with
    -- the field named, rather than wedging a slot or vanishing.
    local bad = nil
    if j[1] == 'queued' then
      if not whole(j[2], 0, 1e15) then bad = 'expires_at'
      elseif not whole(j[4], 0, 1000) then bad = 'attempts'
      elseif not whole(j[5] or '0', 0, 1e15) then bad = 'created_at'
      elseif not whole(j[6], 1, 100) then bad = 'max_attempts'
      elseif not whole(j[7], 1, 315360000) then bad = 'keep_s'
      elseif type(j[3]) ~= 'string' then bad = 'spec' end
    end
    if bad then
      local v = redis.call('HGET', jk, bad) or '(missing)'
      finalize(P, id, 'rejected', 'the job record is malformed: ' .. bad .. ' is "' ..
        string.sub(v, 1, 40) .. '", not a valid value', nil, false)
    elseif j[1] == 'queued' then
      if tonumber(j[2]) < now then
        finalize(P, id, 'expired', 'the job waited in the queue longer than its TTL and was not run', nil, false)
      elseif j[8] == '1' then
        -- Cancelled while it ran, then queued again (by a path that
        -- missed the flag): it never starts again.
        finalize(P, id, 'cancelled', 'the job was cancelled', nil, false)
      else
        local fence = redis.call('HINCRBY', jk, 'fence', 1)
        local token = ARGV[2] .. '/' .. fence
        local attempts = tonumber(j[4]) + 1
        redis.call('HSET', jk, 'state', 'running', 'worker', ARGV[2],
          'lease', token, 'started_at', now, 'attempts', attempts,
          'lease_until', now + tonumber(ARGV[3]))
        redis.call('PERSIST', jk)
        redis.call('PERSIST', P .. 'input:' .. id)
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), id)
        notify(P, id, 'running')
        local input = redis.call('GET', P .. 'input:' .. id) or ''
        return {'job', id, token, j[3], input, attempts, j[5] or '0'}
      end
    end
  end
end
-- Nothing is queued, so every wake-up token left names a job already
-- claimed: each would cost an idle worker a round trip for nothing.
redis.call('DEL', P .. 'wake')
return {'none'}
