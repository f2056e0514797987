-- live: appends a piece of a running job's output to its live stream,
-- which is capped and expires a while after its last piece.
-- KEYS: 1 live stream
-- ARGV: 1 which ("o" stdout, "e" stderr, "x" the rest was not published),
--       2 byte offset of the piece in its stream, 3 the bytes,
--       4 seconds to keep the stream
redis.call('XADD', KEYS[1], 'MAXLEN', '~', 4096, '*',
  's', ARGV[1], 'off', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
