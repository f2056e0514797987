/* sandq's roles as Redis ACL rules. Every role starts from nothing
 * (resetkeys, resetchannels, -@all) and is given the commands sandq sends
 * for it and the keys of its queues:
 *
 * - a submitter reaches only sandq:{Q}:* of its team's queues (but not
 *   the pause flag): nothing global (the id index, the queue set, the workers' registry)
 * that would show another team's job ids or commands;
 * - the operator reaches the registry, the queue set, the id index and a
 *   queue's control keys (records, lists, counters, pause), and may only
 *   write (expire, delete) inputs, results and live output, never read
 *   them;
 * - the worker reaches every sandq key, and may run INFO (it checks that
 *   Redis does not evict keys when full).
 *
 * Key patterns name the queue in full ("sandq:{Q}:job:*"): a pattern with
 * a wildcard for the queue would also match another key, since a queue
 * name and a job id may hold ':'. */
#include "acl.h"

#include <stdarg.h>
#include <stdio.h>

/* Connecting: PING, SELECT, and ROLE through Sentinel. AUTH is always
 * allowed. */
#define CONNECT_CMDS "+ping +select +role"
/* What sandq's Lua scripts run, and EVALSHA: Redis checks every command a
 * script runs, and every key it touches, against the caller's rule. */
#define SCRIPT_CMDS                                                                      \
  "+evalsha +del +exists +expire +get +hdel +hget +hincrby +hmget +hset +lpop +lpush "   \
  "+lrem +ltrim +persist +rpush +set +time +xadd +zadd +zrange +zrangebyscore +zrem "    \
  "+zremrangebyrank +zscore"

static const char worker_cmds[] = CONNECT_CMDS
    " " SCRIPT_CMDS
    " +script|load +blpop +hgetall +lindex +llen +sadd +smembers +sismember +xread"
    " +zcard +zremrangebyscore +info";
/* Also SCRIPT LOAD: a Redis restarted before any worker came back. */
static const char operator_cmds[] = CONNECT_CMDS
    " " SCRIPT_CMDS
    " +script|load +hgetall +lindex +llen +smembers +sismember +scan +memory|usage"
    " +zcard +zrevrange +blpop";
/* No SCRIPT LOAD (nor EVAL): a submitter runs sandq's scripts, which
 * workers load, and no Lua of its own that could stall Redis. */
static const char submitter_cmds[]
    = CONNECT_CMDS " " SCRIPT_CMDS " +blpop +hgetall +lindex +llen +xread +zcard";

/* The operator's keys of one queue: readable control keys, and the job's
 * data write-only. */
static const char *const operator_rw[]
    = { "job:*", "pending:*", "running", "delayed", "dead",
        "wake",  "ev:*",      "stats",   "paused" };
static const char *const operator_w[] = { "input:*", "result:*", "live:*" };
/* A submitter's keys of one of its queues: all but "paused", which is the
 * operator's to set. */
static const char *const submitter_rw[]
    = { "job:*", "input:*", "result:*", "pending:*", "running", "delayed",
        "dead",  "wake",    "ev:*",     "live:*",    "stats" };

struct out
{
  char *buf;
  size_t len, used;
  int over;
};

__attribute__ ((format (printf, 2, 3))) static void
put (struct out *o, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (o->buf + o->used, o->len - o->used, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= o->len - o->used)
    o->over = 1;
  else
    o->used += (size_t) n;
}

int
sq_acl_rule (enum sq_role role, const char *const *queues, int nqueues, char *buf,
             size_t len)
{
  struct out o = { buf, len, 0, 0 };
  const char *cmds = role == SQ_ROLE_WORKER     ? worker_cmds
                     : role == SQ_ROLE_OPERATOR ? operator_cmds
                                                : submitter_cmds;
  if (!len)
    return -1;
  buf[0] = '\0';
  put (&o, "resetkeys");
  if (role == SQ_ROLE_WORKER)
    put (&o, " ~sandq:*");
  if (role == SQ_ROLE_OPERATOR)
    put (&o, " ~sandq:queues ~sandq:jobq:* ~sandq:workers ~sandq:worker:*");
  for (int q = 0; role != SQ_ROLE_WORKER && q < nqueues; q++)
    {
      if (role == SQ_ROLE_SUBMITTER)
        {
          for (size_t k = 0; k < sizeof submitter_rw / sizeof *submitter_rw; k++)
            put (&o, " ~sandq:{%s}:%s", queues[q], submitter_rw[k]);
          continue;
        }
      for (size_t k = 0; k < sizeof operator_rw / sizeof *operator_rw; k++)
        put (&o, " ~sandq:{%s}:%s", queues[q], operator_rw[k]);
      for (size_t k = 0; k < sizeof operator_w / sizeof *operator_w; k++)
        put (&o, " %%W~sandq:{%s}:%s", queues[q], operator_w[k]);
    }
  put (&o, " resetchannels -@all %s", cmds);
  return o.over ? -1 : (int) o.used;
}
