-- Shared helpers, prepended to every script.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A whole number from lo to hi, or nil: record fields and script
-- arguments are strings anyone with the keys may have written.
local function whole(v, lo, hi)
  local n = tonumber(v)
  if n == nil or n ~= math.floor(n) or n < lo or n > hi then return nil end
  return n
end

-- Makes a job final: status, message, retention, counters, waiters.
-- P is the queue's key prefix "sandq:{Q}:".
local function finalize(P, id, status, message, fields, dead)
  local jk = P .. 'job:' .. id
  local now = now_ms()
  local keep = whole(redis.call('HGET', jk, 'keep_s'), 1, 315360000) or 259200
  redis.call('HSET', jk, 'state', 'final', 'status', status, 'message', message,
    'finished_at', now)
  redis.call('HDEL', jk, 'lease', 'lease_until')
  if fields then
    for i = 1, #fields, 2 do redis.call('HSET', jk, fields[i], fields[i + 1]) end
  end
  redis.call('ZREM', P .. 'running', id)
  redis.call('ZREM', P .. 'delayed', id)
  if dead then
    -- Dead letters keep their input so that they can be retried.
    local dkeep = whole(redis.call('HGET', jk, 'dead_keep_s'), 1, 315360000) or 604800
    redis.call('HSET', jk, 'dead', 1)
    redis.call('ZADD', P .. 'dead', now, id)
    redis.call('ZREMRANGEBYRANK', P .. 'dead', 0, -10001)
    redis.call('EXPIRE', jk, dkeep)
    redis.call('EXPIRE', P .. 'input:' .. id, dkeep)
    redis.call('HINCRBY', P .. 'stats', 'dead', 1)
  else
    redis.call('EXPIRE', jk, keep)
    redis.call('DEL', P .. 'input:' .. id)
  end
  redis.call('HINCRBY', P .. 'stats', 'status:' .. status, 1)
  local ev = P .. 'ev:' .. id
  redis.call('RPUSH', ev, 'final')
  redis.call('EXPIRE', ev, 300)
end

local function notify(P, id, what)
  local ev = P .. 'ev:' .. id
  redis.call('RPUSH', ev, what)
  redis.call('LTRIM', ev, -16, -1)
  redis.call('EXPIRE', ev, 300)
end

local function requeue_front(P, id)
  local prio = whole(redis.call('HGET', P .. 'job:' .. id, 'priority'), 0, 2) or 1
  redis.call('LPUSH', P .. 'pending:' .. prio, id)
  redis.call('LPUSH', P .. 'wake', id)
  redis.call('LTRIM', P .. 'wake', 0, 63)
end
