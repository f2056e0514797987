-- purge: forgets dead letters, their job hash, input, result and live
-- output; a job no longer in the dead-letter set (retried meanwhile) is
-- left alone.
-- KEYS: 1 the queue's dead-letter set (P .. 'dead')
-- ARGV: 1 prefix, 2 a job id, or '' for every dead letter of the queue
-- Returns the number of jobs purged.
local P, only = ARGV[1], ARGV[2]
local ids
if only == '' then
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
elseif redis.call('ZSCORE', KEYS[1], only) then
  ids = { only }
else
  return 0
end
for _, id in ipairs(ids) do
  redis.call('DEL', P .. 'job:' .. id, P .. 'input:' .. id, P .. 'result:' .. id,
             P .. 'live:' .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
