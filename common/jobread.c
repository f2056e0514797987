/* Reads of one job's keys, and the waits on a job's or a queue's events:
 * the record, the result archive, the live output stream. With proto.c
 * and fleet.c the one place that names a key; docs/protocol.md is the
 * reference. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

redisReply *
sq_job_get (sq_redis *r, const char *queue, const char *id, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "job", id);
  return sq_redis_cmdf (r, err, "HGETALL %s", key);
}

int
sq_job_exists (sq_redis *r, const char *queue, const char *id, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "job", id);
  redisReply *rep = sq_redis_cmdf (r, err, "EXISTS %s", key);
  if (!rep)
    return -1;
  int exists = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  freeReplyObject (rep);
  return exists;
}

redisReply *
sq_result_get (sq_redis *r, const char *queue, const char *id, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "result", id);
  return sq_redis_cmdf (r, err, "GET %s", key);
}

int
sq_result_hold (sq_redis *r, const char *queue, const char *id, uint64_t secs,
                sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "result", id);
  redisReply *rep = sq_redis_cmdf (r, err, "EXPIRE %s %" PRIu64 " GT", key, secs);
  if (!rep)
    return -1;
  int exists = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  freeReplyObject (rep);
  if (exists)
    return 1;
  /* GT leaves a key alone when its TTL is longer already. */
  rep = sq_redis_cmdf (r, err, "EXISTS %s", key);
  if (!rep)
    return -1;
  exists = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  freeReplyObject (rep);
  return exists;
}

redisReply *
sq_live_read (sq_redis *r, const char *queue, const char *id, const char *after,
              int block_ms, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "live", id);
  if (block_ms > 0)
    return sq_redis_cmdf (r, err, "XREAD COUNT 256 BLOCK %d STREAMS %s %s", block_ms, key,
                          after);
  return sq_redis_cmdf (r, err, "XREAD COUNT 256 STREAMS %s %s", key, after);
}

int
sq_job_event_wait (sq_redis *r, const char *queue, const char *id, int timeout_s,
                   sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "ev", id);
  redisReply *rep = sq_redis_cmdf (r, err, "BLPOP %s %d", key, timeout_s);
  if (!rep)
    return -1;
  freeReplyObject (rep);
  return 0;
}

/* BLPOP on the queues' wake lists: argv (keys, t: its storage), argc. */
static int
wake_argv (const char *const *queues, int n, int timeout_s, const char **argv,
           char (*keys)[SQ_KEY_MAX], char *t, size_t tlen)
{
  int argc = 0;

  if (n > SQ_WAKE_MAX_QUEUES)
    n = SQ_WAKE_MAX_QUEUES;
  argv[argc++] = "BLPOP";
  for (int i = 0; i < n; i++)
    {
      sq_key (keys[i], SQ_KEY_MAX, queues[i], "wake", NULL);
      argv[argc++] = keys[i];
    }
  snprintf (t, tlen, "%d", timeout_s);
  argv[argc++] = t;
  return argc;
}

int
sq_wake_wait (sq_redis *r, const char *const *queues, int n, int timeout_s, sq_err *err)
{
  const char *argv[SQ_WAKE_MAX_QUEUES + 2];
  char keys[SQ_WAKE_MAX_QUEUES][SQ_KEY_MAX], t[16];
  int argc = wake_argv (queues, n, timeout_s, argv, keys, t, sizeof t);

  redisReply *rep = sq_redis_cmd (r, err, argc, argv, NULL);
  if (!rep)
    return -1;
  freeReplyObject (rep);
  return 0;
}

int
sq_claim_after_wake (struct sq_proto *p, const char *const *queues, int n, int timeout_s,
                     const char *worker, uint64_t lease_ms, struct sq_claimed *c,
                     sq_err *err)
{
  const char *argv[SQ_WAKE_MAX_QUEUES + 2];
  char keys[SQ_WAKE_MAX_QUEUES][SQ_KEY_MAX], t[16];
  int argc = wake_argv (queues, n, timeout_s, argv, keys, t, sizeof t);

  sq_redis_wait_first (p->r, argc, argv);
  int rc = sq_claim (p, queues[0], worker, lease_ms, c, err);
  /* A refused wait did not wait: its own error, from a plain one. */
  if (rc == 0 && p->r->wait_failed && p->r->c)
    return sq_wake_wait (p->r, queues, n, timeout_s, err);
  return rc;
}
