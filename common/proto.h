/* The Redis protocol of sandq: every key name and every command the
 * worker and the CLI send. proto.c moves a job through its states (a Lua
 * script per state change); fleet.c keeps the rest: the worker registry
 * and heartbeats, drain and pause, the set of queues, the id index and
 * the dead-letter set; jobread.c reads a job's record, result, logs and
 * live output. docs/protocol.md is the reference. Knows nothing of
 * sandboxes.
 *
 * Every key of a queue Q starts with "sandq:{Q}:", so that one queue lives
 * in one Redis Cluster hash slot.
 */
#ifndef SQ_PROTO_H
#define SQ_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "redis.h"

#define SQ_QUEUE_MAX 64
#define SQ_ID_MAX 128
#define SQ_KEY_MAX 256

enum sq_priority
{
  SQ_PRIO_HIGH = 0,
  SQ_PRIO_NORMAL = 1,
  SQ_PRIO_LOW = 2,
};

/* "high", "normal", "low" -> 0, 1, 2; -1 if unknown. */
int sq_priority_from_name (const char *name);
const char *sq_priority_name (int prio);

/* Defaults, documented in docs/protocol.md. */
#define SQ_DEFAULT_QUEUE "default"
#define SQ_DEFAULT_TTL_MS (24ULL * 3600 * 1000) /* queued at most 1 day */
#define SQ_DEFAULT_KEEP_S (3 * 86400)           /* results kept 3 days */
#define SQ_DEFAULT_DEAD_KEEP_S (7 * 86400)      /* dead letters 7 days */
#define SQ_DEFAULT_MAX_ATTEMPTS 3
#define SQ_DEFAULT_MAX_RECLAIMS 3
#define SQ_DEFAULT_LEASE_MS 15000
#define SQ_MAX_INPUT_BYTES (64ULL << 20)
#define SQ_MAX_RESULT_BYTES (64ULL << 20)

/* Writes "sandq:{queue}:what" or, with id, "sandq:{queue}:what:id". */
void sq_key (char *buf, size_t len, const char *queue, const char *what, const char *id);

/* Per-connection script cache: each script is loaded once per connection
 * and again after NOSCRIPT. */
/* A claim sent behind another command (sq_claim_behind): its argv lives
 * here until it is sent. */
struct sq_claim_behind
{
  char keys[6][SQ_KEY_MAX], prefix[SQ_KEY_MAX], worker[SQ_KEY_MAX], lease[32];
  const char *argv[3 + 6 + 3];
  int armed;
};

struct sq_proto
{
  sq_redis *r;
  struct sq_script submit, claim, renew, complete, release, reap, cancel, retry, live,
      heartbeat, registry, drain, purge;
  struct sq_claim_behind behind;
};

void sq_proto_init (struct sq_proto *p, sq_redis *r);

/* Loads every script of the protocol (SCRIPT LOAD), so that roles that
 * may only call them (EVALSHA) find them: workers do this whenever they
 * connect. 0, or -1 with err. */
int sq_proto_load_scripts (struct sq_proto *p, sq_err *err);

struct sq_submit_args
{
  const char *queue;
  const char *id;
  const char *spec_json;
  const void *input;
  size_t input_len;
  uint64_t ttl_ms;
  uint64_t keep_s;
  int priority;
  int max_attempts;
  const char *submitter;
};

/* Returns 1 if the job was created, 0 if a job with this id already
 * exists (its state goes to state_out), -1 on error. */
int sq_submit (struct sq_proto *p, const struct sq_submit_args *a, char *state_out,
               size_t state_len, sq_err *err);

struct sq_claimed
{
  char id[SQ_ID_MAX + 1];
  char token[192];
  const char *spec;  /* points into reply */
  const char *input; /* points into reply */
  size_t spec_len;
  size_t input_len;
  int attempts;
  uint64_t created_ms; /* when it was submitted (Redis clock) */
  void *reply;         /* owns the strings above */
};

void sq_claimed_free (struct sq_claimed *c);

/* Returns 1 with *c filled, 0 if the queue is empty, 2 if it is paused,
 * -1 on error. */
int sq_claim (struct sq_proto *p, const char *queue, const char *worker,
              uint64_t lease_ms, struct sq_claimed *c, sq_err *err);

/* Sends a claim from queue behind the next command on p->r (see
 * sq_redis_then), so that it costs no round trip of its own: a worker
 * sends its next claim behind the verdict it reports. */
void sq_claim_behind (struct sq_proto *p, const char *queue, const char *worker,
                      uint64_t lease_ms);

/* What the claim of sq_claim_behind got, once the command it rode behind
 * has returned: as sq_claim (1 with *c filled, 0 empty, 2 paused), or -1
 * if it was not sent, its reply was lost, or it was refused (NOSCRIPT, a
 * full Redis): then nothing is known, and sq_claim asks again. */
int sq_claim_behind_result (struct sq_proto *p, struct sq_claimed *c);

enum sq_lease_state
{
  SQ_LEASE_OK,
  SQ_LEASE_CANCEL,
  SQ_LEASE_LOST,
};

/* Renews n (at most 120) leases of one queue in one round trip; out[i]
 * says what became of each. */
int sq_renew (struct sq_proto *p, const char *queue, uint64_t lease_ms, int n,
              const char *const *ids, const char *const *tokens, enum sq_lease_state *out,
              sq_err *err);

struct sq_completion
{
  const char *status;
  const char *message;
  const void *result; /* the result archive */
  size_t result_len;
  uint64_t retry_backoff_ms;
  const char *const *fields; /* extra job fields: name, value, ... */
  int nfields;               /* count of strings in fields (even) */
};

/* Writes "done", "retry", "dead", "cancelled" (a system_error of a job
 * flagged cancelled meanwhile, recorded as cancelled) or "stale" (the
 * lease is not ours: nothing recorded) to outcome. */
int sq_complete (struct sq_proto *p, const char *queue, const char *id, const char *token,
                 const struct sq_completion *c, char *outcome, size_t outlen,
                 sq_err *err);

/* Returns 1 if released, 0 if the lease was not ours, 2 if the job had
 * been cancelled (it is then final, cancelled, not queued again). */
int sq_release (struct sq_proto *p, const char *queue, const char *id, const char *token,
                sq_err *err);

/* counts: requeued, dead-lettered, cancelled. */
int sq_reap (struct sq_proto *p, const char *queue, int max_reclaims, long long counts[3],
             sq_err *err);

/* Writes "cancelled", "cancelling", "final" or "unknown". */
/* A running job's live output (sandq:{Q}:live:<id>, a stream): a piece of
 * stdout ('o') or stderr ('e') at byte offset off of it, or 'x' when no
 * more is published (the rest is in the result). */
#define SQ_LIVE_MAX (1u << 20) /* bytes published per job */
#define SQ_LIVE_TTL_S 3600     /* kept after its last piece */
int sq_live_append (struct sq_proto *p, const char *queue, const char *id, char which,
                    uint64_t off, const void *data, size_t len, sq_err *err);

int sq_cancel (struct sq_proto *p, const char *queue, const char *id, char *outcome,
               size_t outlen, sq_err *err);

/* Writes "queued", "not_dead", "no_input" or "unknown". */
int sq_retry (struct sq_proto *p, const char *queue, const char *id, uint64_t ttl_ms,
              char *outcome, size_t outlen, sq_err *err);

struct sq_waiting
{
  int64_t depth[3]; /* waiting jobs by priority (high, normal, low) */
  int64_t total;
  int64_t oldest_ms; /* age of the oldest waiting job, -1 if none */
};

/* Counts a queue's waiting jobs and the age of the oldest (by its
 * created_at, against the local clock). */
int sq_queue_waiting (sq_redis *r, const char *queue, struct sq_waiting *w, sq_err *err);

/* ---- The fleet (fleet.c). */

#define SQ_WORKER_TTL_S 30                    /* a silent worker's hash lives on */
#define SQ_WORKER_FORGET_MS (86400ULL * 1000) /* and its registry entry */

/* Publishes worker's heartbeat (fields: name, value, ...; at most 16
 * pairs) and keeps it in the registry at now_ms. Returns 1 if an operator
 * asked it to drain, 0 if not, -1 on error. */
int sq_worker_heartbeat (struct sq_proto *p, const char *worker, uint64_t now_ms,
                         const char *const *fields, int nfields, sq_err *err);

/* Takes a stopping worker out of the registry. */
int sq_worker_forget (sq_redis *r, const char *worker, sq_err *err);

/* Asks a live worker to drain: 1 asked, 0 no such live worker, -1. */
int sq_worker_drain (struct sq_proto *p, const char *worker, sq_err *err);

/* The ids of the workers heard from since since_ms (an array reply), and
 * one worker's heartbeat fields (HGETALL). */
redisReply *sq_workers_since (sq_redis *r, uint64_t since_ms, sq_err *err);
redisReply *sq_worker_get (sq_redis *r, const char *worker, sq_err *err);

/* The queues ever submitted to (an array reply); whether queue is one of
 * them (1, 0, -1); adding one. */
redisReply *sq_queues (sq_redis *r, sq_err *err);
int sq_queue_known (sq_redis *r, const char *queue, sq_err *err);
int sq_queue_add (sq_redis *r, const char *queue, sq_err *err);

/* Stops (pause 1) or lets (0) workers fetch from queue. */
int sq_queue_pause (sq_redis *r, const char *queue, int pause, sq_err *err);

struct sq_queue_counts
{
  long long running, retrying, dead;
  int paused;
};
int sq_queue_counts (sq_redis *r, const char *queue, struct sq_queue_counts *c,
                     sq_err *err);

/* The queue's counters (HGETALL of its stats hash). */
redisReply *sq_queue_stats (sq_redis *r, const char *queue, sq_err *err);

/* The newest max dead letters' ids (an array reply). */
redisReply *sq_dead_ids (sq_redis *r, const char *queue, size_t max, sq_err *err);

/* Forgets dead letter id, or with id NULL every dead letter of queue, with
 * their records, inputs, results and live output, in one step. Returns
 * how many were purged (0: id is not a dead letter), or -1. */
int sq_dead_purge (struct sq_proto *p, const char *queue, const char *id, sq_err *err);

/* The memory of sandq's keys ("sandq:*"; the first max_keys of them). */
int sq_memory_usage (sq_redis *r, long long max_keys, long long *bytes, long long *keys,
                     sq_err *err);

/* The id index "sandq:jobq:<id>": 1 with the job's queue, 0 if the index
 * has no entry, -1 on error. */
int sq_index_get (sq_redis *r, const char *id, char *queue, size_t len, sq_err *err);

/* Finds a job's queue from the index; fallback_queue when it has none. */
int sq_find_queue (sq_redis *r, const char *id, const char *fallback_queue, char *queue,
                   size_t len, sq_err *err);

/* Submits with the id index and the queue set kept: as sq_submit, and -2
 * (err says so) when the id is already used in another queue. */
int sq_submit_job (struct sq_proto *p, const struct sq_submit_args *a, char *state,
                   size_t len, sq_err *err);

/* ---- One job's keys, and waits (jobread.c). */

/* The job's record (HGETALL), its result archive (GET). */
redisReply *sq_job_get (sq_redis *r, const char *queue, const char *id, sq_err *err);
/* 1 if queue holds job id's record, 0 if not, -1 with err. */
int sq_job_exists (sq_redis *r, const char *queue, const char *id, sq_err *err);
redisReply *sq_result_get (sq_redis *r, const char *queue, const char *id, sq_err *err);

/* Keeps job id's result at least secs longer (a later job takes it as
 * input): 1 done, 0 there is no result, -1 on error. */
int sq_result_hold (sq_redis *r, const char *queue, const char *id, uint64_t secs,
                    sq_err *err);

/* Pieces of the job's live output after stream id after ("0" for all),
 * waiting up to block_ms for one if block_ms > 0 (an XREAD reply). */
redisReply *sq_live_read (sq_redis *r, const char *queue, const char *id,
                          const char *after, int block_ms, sq_err *err);

/* Waits up to timeout_s for the job's next event (a state change). */
int sq_job_event_wait (sq_redis *r, const char *queue, const char *id, int timeout_s,
                       sq_err *err);

/* Waits up to timeout_s for a job to arrive on one of the queues. */
#define SQ_WAKE_MAX_QUEUES 16
int sq_wake_wait (sq_redis *r, const char *const *queues, int n, int timeout_s,
                  sq_err *err);

/* sq_wake_wait, then sq_claim from queues[0] the moment it returns, in
 * one round trip (the claim is sent behind the wait). Returns as sq_claim;
 * -1 with err also when the wait was refused. */
int sq_claim_after_wake (struct sq_proto *p, const char *const *queues, int n,
                         int timeout_s, const char *worker, uint64_t lease_ms,
                         struct sq_claimed *c, sq_err *err);

#endif
