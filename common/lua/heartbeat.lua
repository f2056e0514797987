-- heartbeat: a worker says it is alive and what it is doing, and learns
-- whether an operator asked it to drain.
-- KEYS: 1 the worker's hash (sandq:worker:<id>)
-- ARGV: 1 seconds the hash outlives a silent worker, then field, value, ...
-- Returns 1 if a drain was asked for, else 0.
-- The TTL first: Redis over its maxmemory refuses a script only if its
-- first write may add data, and a heartbeat adds no more than a new
-- worker's hash, so a full Redis still hears its workers. A new hash gets
-- its TTL once it exists.
local fresh = redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if fresh then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if redis.call('HGET', KEYS[1], 'drain') == '1' then return 1 end
return 0
