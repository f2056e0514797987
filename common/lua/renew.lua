-- renew: extend the leases a worker holds, and tell it which jobs were
-- cancelled or lost.
-- KEYS: 1 running
-- ARGV: 1 prefix, 2 lease_ms, then pairs: id, token
-- Returns a flat list: id, "ok" | "cancel" | "lost", ...
local P = ARGV[1]
local now = now_ms()
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jk = P .. 'job:' .. id
  local j = redis.call('HMGET', jk, 'state', 'lease', 'cancel')
  if j[1] == 'running' and j[2] == token then
    -- A running job's record never expires (claim made it so). Saying so
    -- first also lets a renewal through a Redis over its maxmemory: Redis
    -- refuses a script's first write only if it may add data, and a
    -- renewal adds nothing (a score and a field that exist). Refused, the
    -- lease would run out and the job run a second time.
    redis.call('PERSIST', jk)
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', jk, 'lease_until', now + tonumber(ARGV[2]))
    out[#out + 1] = id
    out[#out + 1] = j[3] == '1' and 'cancel' or 'ok'
  else
    out[#out + 1] = id
    out[#out + 1] = 'lost'
  end
end
return out
