/* The keys of sandq's protocol beyond one queue's job states: the worker
 * registry and heartbeats, drain and pause, the set of queues, the job id
 * index, the dead-letter set and a queue's counters. With proto.c the one
 * place that names a key or sends a command; docs/protocol.md is the
 * reference. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "util.h"

#define WORKERS_KEY "sandq:workers"
#define QUEUES_KEY "sandq:queues"

static void
worker_key (char *buf, size_t len, const char *worker)
{
  snprintf (buf, len, "sandq:worker:%s", worker);
}

/* A command whose reply only says it went through: -1 with err when
 * it did not (an error reply: WRONGTYPE, say). */
static int
done (redisReply *rep, sq_err *err)
{
  if (!rep)
    return -1;
  int failed = rep->type == REDIS_REPLY_ERROR;
  if (failed)
    sq_err_set (err, 0, "%.200s", rep->str);
  freeReplyObject (rep);
  return failed ? -1 : 0;
}

/* A command with an integer reply: its value, or -1. */
static long long
integer (redisReply *rep, const char *what, sq_err *err)
{
  if (!rep)
    return -1;
  long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
  if (v < 0)
    sq_err_set (err, 0, "%s: unexpected reply type %d", what, rep->type);
  freeReplyObject (rep);
  return v;
}

int
sq_worker_heartbeat (struct sq_proto *p, const char *worker, uint64_t now_ms,
                     const char *const *fields, int nfields, sq_err *err)
{
  char key[SQ_KEY_MAX], ttl[16], now[32], before[32];
  const char *keys[1] = { key };
  const char *args[2 + 2 * 16];

  if (nfields > 2 * 16 || nfields % 2)
    return sq_err_set (err, EINVAL, "heartbeat: %d fields", nfields);
  worker_key (key, sizeof key, worker);
  snprintf (ttl, sizeof ttl, "%d", SQ_WORKER_TTL_S);
  args[0] = ttl;
  for (int i = 0; i < nfields; i++)
    args[1 + i] = fields[i];
  long long drain = integer (
      sq_redis_eval (p->r, &p->heartbeat, 1, keys, 1 + nfields, args, NULL, err),
      "heartbeat", err);
  if (drain < 0)
    return -1;
  /* The registry: who was heard from when; the silent are forgotten. */
  const char *rkeys[1] = { WORKERS_KEY };
  const char *rargs[3] = { now, worker, before };
  snprintf (now, sizeof now, "%" PRIu64, now_ms);
  snprintf (before, sizeof before, "%" PRIu64,
            (uint64_t) (now_ms > SQ_WORKER_FORGET_MS ? now_ms - SQ_WORKER_FORGET_MS : 0));
  if (integer (sq_redis_eval (p->r, &p->registry, 1, rkeys, 3, rargs, NULL, err),
               "registry", err)
      < 0)
    return -1;
  return drain ? 1 : 0;
}

int
sq_worker_forget (sq_redis *r, const char *worker, sq_err *err)
{
  char key[SQ_KEY_MAX];
  worker_key (key, sizeof key, worker);
  if (done (sq_redis_cmdf (r, err, "DEL %s", key), err) < 0)
    return -1;
  return done (sq_redis_cmdf (r, err, "ZREM " WORKERS_KEY " %s", worker), err);
}

int
sq_worker_drain (struct sq_proto *p, const char *worker, sq_err *err)
{
  char key[SQ_KEY_MAX];
  const char *keys[1] = { key };
  worker_key (key, sizeof key, worker);
  return (int) integer (sq_redis_eval (p->r, &p->drain, 1, keys, 0, NULL, NULL, err),
                        "drain", err);
}

redisReply *
sq_workers_since (sq_redis *r, uint64_t since_ms, sq_err *err)
{
  return sq_redis_cmdf (r, err, "ZRANGEBYSCORE " WORKERS_KEY " %" PRIu64 " +inf",
                        since_ms);
}

redisReply *
sq_worker_get (sq_redis *r, const char *worker, sq_err *err)
{
  char key[SQ_KEY_MAX];
  worker_key (key, sizeof key, worker);
  return sq_redis_cmdf (r, err, "HGETALL %s", key);
}

redisReply *
sq_queues (sq_redis *r, sq_err *err)
{
  return sq_redis_cmdf (r, err, "SMEMBERS " QUEUES_KEY);
}

int
sq_queue_known (sq_redis *r, const char *queue, sq_err *err)
{
  return (int) integer (sq_redis_cmdf (r, err, "SISMEMBER " QUEUES_KEY " %s", queue),
                        "queue", err);
}

int
sq_queue_add (sq_redis *r, const char *queue, sq_err *err)
{
  return done (sq_redis_cmdf (r, err, "SADD " QUEUES_KEY " %s", queue), err);
}

int
sq_queue_pause (sq_redis *r, const char *queue, int pause, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "paused", NULL);
  return done (pause ? sq_redis_cmdf (r, err, "SET %s 1", key)
                     : sq_redis_cmdf (r, err, "DEL %s", key),
               err);
}

int
sq_queue_counts (sq_redis *r, const char *queue, struct sq_queue_counts *c, sq_err *err)
{
  static const char *const what[] = { "running", "delayed", "dead" };
  char key[SQ_KEY_MAX];
  long long v[3];

  for (int i = 0; i < 3; i++)
    {
      sq_key (key, sizeof key, queue, what[i], NULL);
      if ((v[i] = integer (sq_redis_cmdf (r, err, "ZCARD %s", key), "queue counts", err))
          < 0)
        return -1;
    }
  sq_key (key, sizeof key, queue, "paused", NULL);
  long long paused = integer (sq_redis_cmdf (r, err, "EXISTS %s", key), "paused", err);
  if (paused < 0)
    return -1;
  c->running = v[0];
  c->retrying = v[1];
  c->dead = v[2];
  c->paused = paused > 0;
  return 0;
}

redisReply *
sq_queue_stats (sq_redis *r, const char *queue, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "stats", NULL);
  return sq_redis_cmdf (r, err, "HGETALL %s", key);
}

redisReply *
sq_dead_ids (sq_redis *r, const char *queue, size_t max, sq_err *err)
{
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "dead", NULL);
  char last[32];
  /* hiredis's format takes no %zu. */
  snprintf (last, sizeof last, "%zu", max ? max - 1 : 0);
  return sq_redis_cmdf (r, err, "ZREVRANGE %s 0 %s", key, last);
}

int
sq_dead_purge (struct sq_proto *p, const char *queue, const char *id, sq_err *err)
{
  char key[SQ_KEY_MAX], pre[SQ_KEY_MAX];
  const char *keys[1] = { key };
  const char *args[2] = { pre, id ? id : "" };
  sq_key (key, sizeof key, queue, "dead", NULL);
  snprintf (pre, sizeof pre, "sandq:{%s}:", queue);
  return (int) integer (sq_redis_eval (p->r, &p->purge, 1, keys, 2, args, NULL, err),
                        "purge", err);
}

int
sq_memory_usage (sq_redis *r, long long max_keys, long long *bytes, long long *keys,
                 sq_err *err)
{
  char cursor[32] = "0";
  *bytes = *keys = 0;
  do
    {
      redisReply *rep
          = sq_redis_cmdf (r, err, "SCAN %s MATCH sandq:* COUNT 1000", cursor);
      if (!rep)
        return -1;
      if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        {
          freeReplyObject (rep);
          break;
        }
      snprintf (cursor, sizeof cursor, "%s", rep->element[0]->str);
      for (size_t i = 0; i < rep->element[1]->elements && *keys < max_keys; i++)
        {
          redisReply *m = sq_redis_cmdf (r, err, "MEMORY USAGE %s",
                                         rep->element[1]->element[i]->str);
          if (!m)
            {
              freeReplyObject (rep);
              return -1;
            }
          if (m->type == REDIS_REPLY_INTEGER)
            *bytes += m->integer;
          freeReplyObject (m);
          (*keys)++;
        }
      freeReplyObject (rep);
    }
  while (strcmp (cursor, "0") != 0 && *keys < max_keys);
  return 0;
}

/* ---- The id index: sandq:jobq:<id> names the queue of a job id. */

int
sq_index_get (sq_redis *r, const char *id, char *queue, size_t len, sq_err *err)
{
  redisReply *rep = sq_redis_cmdf (r, err, "GET sandq:jobq:%s", id);
  if (!rep)
    return -1;
  int found = rep->type == REDIS_REPLY_STRING && rep->len > 0;
  if (found)
    snprintf (queue, len, "%.*s", (int) rep->len, rep->str);
  freeReplyObject (rep);
  return found;
}

int
sq_find_queue (sq_redis *r, const char *id, const char *fallback_queue, char *queue,
               size_t len, sq_err *err)
{
  int found = sq_index_get (r, id, queue, len, err);
  if (found < 0)
    return -1;
  if (!found)
    snprintf (queue, len, "%s", fallback_queue);
  return 0;
}

int
sq_submit_job (struct sq_proto *p, const struct sq_submit_args *a, char *state,
               size_t len, sq_err *err)
{
  /* The id index first: a job id names one queue. A submitter role
   * confined to its team's queues may not write it, nor the queue set:
   * then its jobs are found by queue, and its ids are unique within them
   * (the script below). */
  redisReply *rep = sq_redis_cmdf (p->r, err, "SET sandq:jobq:%s %s NX EX %" PRIu64,
                                   a->id, a->queue, a->ttl_ms / 1000 + a->keep_s + 86400);
  if (!rep && sq_redis_take_denied (p->r))
    return sq_submit (p, a, state, len, err);
  if (!rep && p->r->full)
    sq_redis_full_err (p->r, err, "stored nothing of job '%s'", a->id);
  if (!rep)
    return -1;
  if (rep->type == REDIS_REPLY_ERROR)
    {
      sq_err_set (err, 0, "job id index: %.200s", rep->str);
      freeReplyObject (rep);
      return -1;
    }
  int fresh = rep->type == REDIS_REPLY_STATUS;
  freeReplyObject (rep);
  if (!fresh)
    {
      char other[SQ_QUEUE_MAX + 1];
      if (sq_find_queue (p->r, a->id, a->queue, other, sizeof other, err) < 0)
        return -1;
      if (strcmp (other, a->queue) != 0)
        {
          sq_err_set (err, 0, "job id '%s' is already used in queue '%s'", a->id, other);
          return -2;
        }
    }
  if (sq_queue_add (p->r, a->queue, err) < 0)
    return -1;
  return sq_submit (p, a, state, len, err);
}
