-- registry: the workers' registry, who was heard from when; a worker not
-- heard from since before ARGV[3] is forgotten.
-- KEYS: 1 the registry (sandq:workers)
-- ARGV: 1 now (ms), 2 the worker's id, 3 forget entries this old or older (ms)
-- Returns 0.
-- Trimming first: a write Redis takes even over its maxmemory, after which
-- the ZADD goes through too (see heartbeat).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 0
