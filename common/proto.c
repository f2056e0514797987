#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "lua_scripts.h" /* generated from common/lua/ */

static const char *const prio_names[] = { "high", "normal", "low" };

int
sq_priority_from_name (const char *name)
{
  for (int i = 0; i < 3; i++)
    if (strcmp (name, prio_names[i]) == 0)
      return i;
  return -1;
}

const char *
sq_priority_name (int prio)
{
  return prio >= 0 && prio < 3 ? prio_names[prio] : "normal";
}

void
sq_key (char *buf, size_t len, const char *queue, const char *what, const char *id)
{
  if (id)
    snprintf (buf, len, "sandq:{%s}:%s:%s", queue, what, id);
  else
    snprintf (buf, len, "sandq:{%s}:%s", queue, what);
}

void
sq_proto_init (struct sq_proto *p, sq_redis *r)
{
  memset (p, 0, sizeof *p);
  p->r = r;
#define S(n) p->n = (struct sq_script){ #n, sq_lua_##n, sq_lua_##n##_sha }
  S (submit);
  S (claim);
  S (renew);
  S (complete);
  S (release);
  S (reap);
  S (cancel);
  S (retry);
  S (live);
  S (heartbeat);
  S (registry);
  S (drain);
  S (purge);
#undef S
}

int
sq_proto_load_scripts (struct sq_proto *p, sq_err *err)
{
  struct sq_script *all[]
      = { &p->submit,   &p->claim,  &p->renew, &p->complete, &p->release,
          &p->reap,     &p->cancel, &p->retry, &p->live,     &p->heartbeat,
          &p->registry, &p->drain,  &p->purge };
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (sq_redis_load_script (p->r, all[i], err) < 0)
      return -1;
  return 0;
}

static void
prefix (char *buf, size_t len, const char *queue)
{
  snprintf (buf, len, "sandq:{%s}:", queue);
}

static int
string_reply (redisReply *rep, char *out, size_t outlen, const char *what, sq_err *err)
{
  int r = 0;
  if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
    snprintf (out, outlen, "%s", rep->str);
  else
    r = sq_err_set (err, 0, "%s: unexpected reply type %d", what, rep->type);
  freeReplyObject (rep);
  return r;
}

int
sq_submit (struct sq_proto *p, const struct sq_submit_args *a, char *state_out,
           size_t state_len, sq_err *err)
{
  char job[SQ_KEY_MAX], input[SQ_KEY_MAX], pending[SQ_KEY_MAX], wake[SQ_KEY_MAX],
      stats[SQ_KEY_MAX], ttl[32], keep[32], prio[8], att[8];
  const char *keys[] = { job, input, pending, wake, stats };
  const char *args[9];
  size_t lens[9];
  redisReply *rep;
  int r;

  sq_key (job, sizeof job, a->queue, "job", a->id);
  sq_key (input, sizeof input, a->queue, "input", a->id);
  snprintf (prio, sizeof prio, "%d", a->priority);
  sq_key (pending, sizeof pending, a->queue, "pending", prio);
  sq_key (wake, sizeof wake, a->queue, "wake", NULL);
  sq_key (stats, sizeof stats, a->queue, "stats", NULL);
  snprintf (ttl, sizeof ttl, "%" PRIu64, a->ttl_ms);
  snprintf (keep, sizeof keep, "%" PRIu64, a->keep_s);
  snprintf (att, sizeof att, "%d", a->max_attempts);
  args[0] = a->id;
  args[1] = a->spec_json;
  args[2] = a->input;
  args[3] = ttl;
  args[4] = keep;
  args[5] = a->queue;
  args[6] = prio;
  args[7] = att;
  args[8] = a->submitter ? a->submitter : "";
  /* The input is bytes: never strlen it (see sq_complete). */
  for (int i = 0; i < 9; i++)
    lens[i] = i == 2 ? a->input_len : strlen (args[i]);
  rep = sq_redis_eval (p->r, &p->submit, 5, keys, 9, args, lens, err);
  if (!rep)
    return -1;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
    {
      freeReplyObject (rep);
      return sq_err_set (err, 0, "submit: unexpected reply");
    }
  r = (int) rep->element[0]->integer;
  if (state_out)
    snprintf (state_out, state_len, "%s",
              rep->element[1]->str ? rep->element[1]->str : "");
  freeReplyObject (rep);
  return r;
}

void
sq_claimed_free (struct sq_claimed *c)
{
  if (c->reply)
    freeReplyObject (c->reply);
  memset (c, 0, sizeof *c);
}

/* The claim script's keys and its prefix and lease arguments. */
static void
claim_args (const char *queue, uint64_t lease_ms, char k[6][SQ_KEY_MAX], char *pre,
            char *lease, size_t lease_len)
{
  static const char *const what[6]
      = { "pending", "pending", "pending", "running", "delayed", "paused" };
  static const char *const prio[6] = { "0", "1", "2", NULL, NULL, NULL };

  for (int i = 0; i < 6; i++)
    sq_key (k[i], SQ_KEY_MAX, queue, what[i], prio[i]);
  prefix (pre, SQ_KEY_MAX, queue);
  snprintf (lease, lease_len, "%" PRIu64, lease_ms);
}

/* The claim script's reply into *c; frees it unless it holds a job. */
static int
claim_reply (redisReply *rep, struct sq_claimed *c, sq_err *err)
{
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1
      || rep->element[0]->type != REDIS_REPLY_STRING)
    {
      freeReplyObject (rep);
      return sq_err_set (err, 0, "claim: unexpected reply");
    }
  if (strcmp (rep->element[0]->str, "none") == 0)
    {
      freeReplyObject (rep);
      return 0;
    }
  if (strcmp (rep->element[0]->str, "paused") == 0)
    {
      freeReplyObject (rep);
      return 2;
    }
  if (rep->elements != 7)
    {
      freeReplyObject (rep);
      return sq_err_set (err, 0, "claim: unexpected reply");
    }
  snprintf (c->id, sizeof c->id, "%s", rep->element[1]->str);
  snprintf (c->token, sizeof c->token, "%s", rep->element[2]->str);
  c->spec = rep->element[3]->str;
  c->spec_len = rep->element[3]->len;
  c->input = rep->element[4]->str;
  c->input_len = rep->element[4]->len;
  c->attempts = (int) rep->element[5]->integer;
  c->created_ms = strtoull (rep->element[6]->str ? rep->element[6]->str : "0", NULL, 10);
  c->reply = rep;
  return 1;
}

int
sq_claim (struct sq_proto *p, const char *queue, const char *worker, uint64_t lease_ms,
          struct sq_claimed *c, sq_err *err)
{
  char k[6][SQ_KEY_MAX], pre[SQ_KEY_MAX], lease[32];
  const char *keys[6], *args[3] = { pre, worker, lease };
  redisReply *rep;

  memset (c, 0, sizeof *c);
  claim_args (queue, lease_ms, k, pre, lease, sizeof lease);
  for (int i = 0; i < 6; i++)
    keys[i] = k[i];
  rep = sq_redis_eval (p->r, &p->claim, 6, keys, 3, args, NULL, err);
  if (!rep)
    return -1;
  return claim_reply (rep, c, err);
}

void
sq_claim_behind (struct sq_proto *p, const char *queue, const char *worker,
                 uint64_t lease_ms)
{
  struct sq_claim_behind *b = &p->behind;

  claim_args (queue, lease_ms, b->keys, b->prefix, b->lease, sizeof b->lease);
  snprintf (b->worker, sizeof b->worker, "%s", worker);
  b->argv[0] = "EVALSHA";
  b->argv[1] = p->claim.sha;
  b->argv[2] = "6";
  for (int i = 0; i < 6; i++)
    b->argv[3 + i] = b->keys[i];
  b->argv[9] = b->prefix;
  b->argv[10] = b->worker;
  b->argv[11] = b->lease;
  b->armed = 1;
  sq_redis_then (p->r, 12, b->argv, NULL);
}

int
sq_claim_behind_result (struct sq_proto *p, struct sq_claimed *c)
{
  sq_err err = { 0 };

  memset (c, 0, sizeof *c);
  if (!p->behind.armed)
    return -1;
  p->behind.armed = 0;
  p->r->then_argc = 0; /* not sent: not to ride behind a later command */
  redisReply *rep = sq_redis_then_take (p->r);
  if (!rep)
    return -1;
  /* NOSCRIPT, OOM and the like: the claim did not run. */
  if (rep->type == REDIS_REPLY_ERROR)
    {
      freeReplyObject (rep);
      return -1;
    }
  int rc = claim_reply (rep, c, &err);
  return rc < 0 ? -1 : rc;
}

int
sq_renew (struct sq_proto *p, const char *queue, uint64_t lease_ms, int n,
          const char *const *ids, const char *const *tokens, enum sq_lease_state *out,
          sq_err *err)
{
  char running[SQ_KEY_MAX], pre[SQ_KEY_MAX], lease[32];
  const char *keys[1] = { running };
  const char *args[2 + 2 * 120];
  redisReply *rep;

  if (n > 120)
    return sq_err_set (err, E2BIG, "renew: more than 120 leases at once");
  sq_key (running, sizeof running, queue, "running", NULL);
  prefix (pre, sizeof pre, queue);
  snprintf (lease, sizeof lease, "%" PRIu64, lease_ms);
  args[0] = pre;
  args[1] = lease;
  for (int i = 0; i < n; i++)
    {
      args[2 + 2 * i] = ids[i];
      args[3 + 2 * i] = tokens[i];
    }
  rep = sq_redis_eval (p->r, &p->renew, 1, keys, 2 + 2 * n, args, NULL, err);
  if (!rep)
    return -1;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t) (2 * n))
    {
      freeReplyObject (rep);
      return sq_err_set (err, 0, "renew: unexpected reply");
    }
  for (int i = 0; i < n; i++)
    {
      const char *s = rep->element[2 * i + 1]->str;
      out[i] = strcmp (s, "ok") == 0       ? SQ_LEASE_OK
               : strcmp (s, "cancel") == 0 ? SQ_LEASE_CANCEL
                                           : SQ_LEASE_LOST;
    }
  freeReplyObject (rep);
  return 0;
}

int
sq_complete (struct sq_proto *p, const char *queue, const char *id, const char *token,
             const struct sq_completion *c, char *outcome, size_t outlen, sq_err *err)
{
  char job[SQ_KEY_MAX], result[SQ_KEY_MAX], pre[SQ_KEY_MAX], backoff[32];
  const char *keys[2] = { job, result };
  const char *args[7 + 40];
  size_t lens[7 + 40];
  redisReply *rep;
  int nargs = 7 + c->nfields;

  if (c->nfields > 40 || c->nfields % 2)
    return sq_err_set (err, EINVAL, "complete: bad field list");
  sq_key (job, sizeof job, queue, "job", id);
  sq_key (result, sizeof result, queue, "result", id);
  prefix (pre, sizeof pre, queue);
  snprintf (backoff, sizeof backoff, "%" PRIu64, c->retry_backoff_ms);
  args[0] = pre;
  args[1] = id;
  args[2] = token;
  args[3] = c->status;
  args[4] = c->message;
  args[5] = c->result ? c->result : "";
  args[6] = backoff;
  for (int i = 0; i < c->nfields; i++)
    args[7 + i] = c->fields[i];
  /* The result is bytes, not a string: never strlen it (it need not end
   * in a NUL: a sealed result is a malloc'ed buffer of its exact size). */
  for (int i = 0; i < nargs; i++)
    lens[i] = i == 5 ? (c->result ? c->result_len : 0) : strlen (args[i]);
  rep = sq_redis_eval (p->r, &p->complete, 2, keys, nargs, args, lens, err);
  if (!rep)
    return -1;
  return string_reply (rep, outcome, outlen, "complete", err);
}

int
sq_release (struct sq_proto *p, const char *queue, const char *id, const char *token,
            sq_err *err)
{
  char job[SQ_KEY_MAX], pre[SQ_KEY_MAX];
  const char *keys[1] = { job };
  const char *args[3] = { pre, id, token };
  redisReply *rep;
  int r;

  sq_key (job, sizeof job, queue, "job", id);
  prefix (pre, sizeof pre, queue);
  rep = sq_redis_eval (p->r, &p->release, 1, keys, 3, args, NULL, err);
  if (!rep)
    return -1;
  r = rep->type == REDIS_REPLY_INTEGER ? (int) rep->integer : -1;
  freeReplyObject (rep);
  return r;
}

int
sq_reap (struct sq_proto *p, const char *queue, int max_reclaims, long long counts[3],
         sq_err *err)
{
  char running[SQ_KEY_MAX], pre[SQ_KEY_MAX], maxr[16];
  const char *keys[1] = { running };
  const char *args[2] = { pre, maxr };
  redisReply *rep;

  sq_key (running, sizeof running, queue, "running", NULL);
  prefix (pre, sizeof pre, queue);
  snprintf (maxr, sizeof maxr, "%d", max_reclaims);
  rep = sq_redis_eval (p->r, &p->reap, 1, keys, 2, args, NULL, err);
  if (!rep)
    return -1;
  for (int i = 0; i < 3; i++)
    counts[i] = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3
                    ? rep->element[i]->integer
                    : 0;
  freeReplyObject (rep);
  return 0;
}

int
sq_cancel (struct sq_proto *p, const char *queue, const char *id, char *outcome,
           size_t outlen, sq_err *err)
{
  char job[SQ_KEY_MAX], pre[SQ_KEY_MAX];
  const char *keys[1] = { job };
  const char *args[2] = { pre, id };
  redisReply *rep;

  sq_key (job, sizeof job, queue, "job", id);
  prefix (pre, sizeof pre, queue);
  rep = sq_redis_eval (p->r, &p->cancel, 1, keys, 2, args, NULL, err);
  if (!rep)
    return -1;
  return string_reply (rep, outcome, outlen, "cancel", err);
}

int
sq_live_append (struct sq_proto *p, const char *queue, const char *id, char which,
                uint64_t off, const void *data, size_t len, sq_err *err)
{
  char key[SQ_KEY_MAX], w[2] = { which, '\0' }, o[32], ttl[16];
  const char *keys[1] = { key };
  const char *args[4] = { w, o, data, ttl };
  size_t lens[4];
  redisReply *rep;

  sq_key (key, sizeof key, queue, "live", id);
  snprintf (o, sizeof o, "%" PRIu64, off);
  snprintf (ttl, sizeof ttl, "%d", SQ_LIVE_TTL_S);
  lens[0] = 1;
  lens[1] = strlen (o);
  lens[2] = len;
  lens[3] = strlen (ttl);
  rep = sq_redis_eval (p->r, &p->live, 1, keys, 4, args, lens, err);
  if (!rep)
    return -1;
  freeReplyObject (rep);
  return 0;
}

int
sq_retry (struct sq_proto *p, const char *queue, const char *id, uint64_t ttl_ms,
          char *outcome, size_t outlen, sq_err *err)
{
  char job[SQ_KEY_MAX], input[SQ_KEY_MAX], pre[SQ_KEY_MAX], ttl[32];
  const char *keys[2] = { job, input };
  const char *args[3] = { pre, id, ttl };
  redisReply *rep;

  sq_key (job, sizeof job, queue, "job", id);
  sq_key (input, sizeof input, queue, "input", id);
  prefix (pre, sizeof pre, queue);
  snprintf (ttl, sizeof ttl, "%" PRIu64, ttl_ms);
  rep = sq_redis_eval (p->r, &p->retry, 2, keys, 3, args, NULL, err);
  if (!rep)
    return -1;
  return string_reply (rep, outcome, outlen, "retry", err);
}

int
sq_queue_waiting (sq_redis *r, const char *queue, struct sq_waiting *w, sq_err *err)
{
  int64_t now = (int64_t) sq_wall_ms ();

  memset (w, 0, sizeof *w);
  w->oldest_ms = -1;
  for (int prio = 0; prio < 3; prio++)
    {
      char key[SQ_KEY_MAX], jk[SQ_KEY_MAX], p[4];
      redisReply *rep;

      snprintf (p, sizeof p, "%d", prio);
      sq_key (key, sizeof key, queue, "pending", p);
      if (!(rep = sq_redis_cmdf (r, err, "LLEN %s", key)))
        return -1;
      w->depth[prio] = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
      w->total += w->depth[prio];
      freeReplyObject (rep);
      if (!w->depth[prio])
        continue;
      if (!(rep = sq_redis_cmdf (r, err, "LINDEX %s 0", key)))
        return -1;
      if (rep->type != REDIS_REPLY_STRING)
        {
          freeReplyObject (rep);
          continue;
        }
      sq_key (jk, sizeof jk, queue, "job", rep->str);
      freeReplyObject (rep);
      if (!(rep = sq_redis_cmdf (r, err, "HGET %s created_at", jk)))
        return -1;
      if (rep->type == REDIS_REPLY_STRING)
        {
          int64_t age = now - strtoll (rep->str, NULL, 10);
          if (age > w->oldest_ms)
            w->oldest_ms = age;
        }
      freeReplyObject (rep);
    }
  return 0;
}
