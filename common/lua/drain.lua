-- drain: asks a live worker to finish its running jobs and fetch no
-- more; a worker that is gone is left alone (no hash is made for it).
-- KEYS: 1 the worker's hash (sandq:worker:<id>)
-- Returns 1 if the worker was asked, 0 if there is no such live worker.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'drain', 1)
return 1
