-- retry: put a dead-lettered job back in its queue with fresh attempts.
-- KEYS: 1 job, 2 input
-- ARGV: 1 prefix, 2 id, 3 ttl_ms
-- Returns "queued", "not_dead", "no_input" or "unknown".
local P, id = ARGV[1], ARGV[2]
local j = redis.call('HMGET', KEYS[1], 'state', 'dead', 'keep_s')
if not j[1] then return 'unknown' end
if j[2] ~= '1' then return 'not_dead' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'no_input' end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0, 'reclaims', 0,
  'expires_at', now + tonumber(ARGV[3]))
redis.call('HDEL', KEYS[1], 'dead', 'status', 'message', 'finished_at', 'cancel')
redis.call('ZREM', P .. 'dead', id)
local hold = math.floor(tonumber(ARGV[3]) / 1000) + tonumber(j[3] or '259200')
redis.call('EXPIRE', KEYS[1], hold)
redis.call('EXPIRE', KEYS[2], hold)
local prio = redis.call('HGET', KEYS[1], 'priority') or '1'
redis.call('RPUSH', P .. 'pending:' .. prio, id)
redis.call('LPUSH', P .. 'wake', id)
redis.call('LTRIM', P .. 'wake', 0, 63)
return 'queued'
