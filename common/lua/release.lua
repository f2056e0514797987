-- release: give a leased job back without using up an attempt (graceful
-- shutdown).
-- KEYS: 1 job
-- ARGV: 1 prefix, 2 id, 3 token
-- Returns 1 if released, 0 if the lease was not ours, 2 if the job had
-- been cancelled: it ends cancelled, never queued again.
local P, id = ARGV[1], ARGV[2]
local j = redis.call('HMGET', KEYS[1], 'state', 'lease', 'attempts', 'cancel')
if j[1] ~= 'running' or j[2] ~= ARGV[3] then return 0 end
if j[4] == '1' then
  finalize(P, id, 'cancelled', 'the job was cancelled', nil, false)
  return 2
end
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', math.max(0, tonumber(j[3]) - 1))
redis.call('HDEL', KEYS[1], 'lease', 'lease_until', 'worker')
redis.call('ZREM', P .. 'running', id)
requeue_front(P, id)
notify(P, id, 'queued')
redis.call('HINCRBY', P .. 'stats', 'released', 1)
return 1
