-- cancel: a queued job never runs; a running one is flagged, and its
-- worker kills it at the next lease renewal.
-- KEYS: 1 job
-- ARGV: 1 prefix, 2 id
-- Returns "cancelled", "cancelling", "final" or "unknown".
local P, id = ARGV[1], ARGV[2]
local j = redis.call('HMGET', KEYS[1], 'state', 'priority')
if not j[1] then return 'unknown' end
if j[1] == 'queued' then
  redis.call('LREM', P .. 'pending:' .. (j[2] or '1'), 0, id)
  finalize(P, id, 'cancelled', 'the job was cancelled before it ran', nil, false)
  redis.call('HINCRBY', P .. 'stats', 'cancels', 1)
  return 'cancelled'
elseif j[1] == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', 1)
  redis.call('HINCRBY', P .. 'stats', 'cancels', 1)
  return 'cancelling'
end
return 'final'
