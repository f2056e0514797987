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
