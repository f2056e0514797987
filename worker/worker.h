/* sandq-worker: shared state of the supervisor loop and the slot threads. */
#ifndef SQ_WORKER_H
#define SQ_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include "../common/proto.h"
#include "../common/redis.h"
#include "../common/spec.h"
#include "../sandbox/sandbox.h"
#include "archiver_client.h"
#include "netpolicy.h"

#define SQ_MAX_QUEUES 16
#define SQ_MAX_SLOTS 64
/* Exit status when Redis refuses the worker's credentials (EX_CONFIG):
 * the unit's RestartPreventExitStatus= names it, so systemd does not
 * restart the worker in a loop. */
#define SQ_WORKER_EXIT_AUTH 78
/* Of the result cap, what is kept for the archive's own bytes (headers,
 * result.json) when a job's stdout and stderr are capped to fit. */
#define SQ_RESULT_HEADROOM (1ULL << 20)

struct worker;

enum slot_state
{
  SLOT_IDLE,
  SLOT_BUSY,
};

struct slot
{
  struct worker *w;
  int idx;
  pthread_t thread;
  /* Guarded by w->lock: */
  enum slot_state state;
  char queue[SQ_QUEUE_MAX + 1];
  char id[SQ_ID_MAX + 1];
  char token[192];
  struct sbx *sbx; /* set while the sandbox runs */
  int cancel;      /* the job was cancelled (lease renewal said so) */
  int lost;        /* the lease was taken over */
  int release;     /* shutting down: give the job back */
  uint64_t started_ms;
  struct archiver arc; /* the slot thread's own job process */
  /* The job was claimed right after the slot's last one, without a wait:
   * more are likely queued (sbx_warm_next_now). Slot thread only. */
  int backlog;
  /* What the first queue's claim already said (-1: nothing known): sent
   * behind the last verdict (sq_claim_behind) or the last wait. With 1,
   * its job, leased to this slot. Slot thread only. */
  int next_rc;
  struct sq_claimed next;
  /* Guarded by w->lock: the job held in next, whose lease the main
   * thread renews as a running job's until the slot runs it or gives it
   * back; held_off is set when a renewal says it is cancelled or no
   * longer ours. */
  char held_id[SQ_ID_MAX + 1];
  char held_token[192];
  int held_off;
  /* The running job's stdout and stderr memfds (-1: none), and what of
   * them live_publish has sent. */
  int live_fd[2];
  uint64_t live_off[2], live_sent;
  int live_done;
};

struct worker_config
{
  char redis_url[1024];
  char queues[SQ_MAX_QUEUES][SQ_QUEUE_MAX + 1];
  int nqueues;
  int concurrency;
  uint64_t lease_ms;
  uint64_t grace_ms;
  char id[128];
  struct sbx_limits defaults;   /* for limits a spec leaves out */
  struct sq_spec_policy policy; /* the most a spec may ask for */
  uint64_t max_result_bytes;
  int max_reclaims;
  uid_t uid_base;
  uint64_t template_refresh_ms; /* 0: the sandbox library's default */
  uint64_t archive_timeout_ms;  /* 0: ARC_DEFAULT_TIMEOUT_MS */
  char metrics_addr[128];       /* host:port, or "" for none */
  struct net_config net;        /* network profiles (netpolicy.h) */
};

/* A Prometheus histogram with fixed buckets in seconds. */
#define SQ_HIST_BUCKETS 12
extern const double sq_hist_bounds[SQ_HIST_BUCKETS];

struct hist
{
  uint64_t counts[SQ_HIST_BUCKETS + 1]; /* last: +Inf */
  double sum;
  uint64_t n;
};

void hist_observe (struct hist *h, double seconds);

struct worker_stats
{
  uint64_t jobs_by_status[SQ_STATUS__COUNT];
  uint64_t jobs[SQ_MAX_QUEUES][SQ_STATUS__COUNT]; /* by queue and verdict */
  /* Refreshed by the supervisor at each heartbeat: */
  int64_t queue_depth[SQ_MAX_QUEUES];
  int64_t queue_oldest_ms[SQ_MAX_QUEUES]; /* -1: nothing waiting */
  uint64_t stale, retries, reclaims_seen, released, dead_letters;
  uint64_t cleanup_failures; /* sandboxes not cleaned up after their run */
  uint64_t slot_commands;    /* Redis round trips of the slots */
  struct hist queue_wait, run_time, unpack_time, upload_time;
  /* By network profile (cfg.net.profiles): jobs that had it, and the
   * connection attempts their filters refused. */
  uint64_t net_jobs[SQ_MAX_NETWORKS], net_refused[SQ_MAX_NETWORKS];
};

struct worker
{
  struct worker_config cfg;
  struct sbx_host *host;
  struct arc_helper archiver; /* sandq-archiver */
  pthread_mutex_t lock;
  struct slot slots[SQ_MAX_SLOTS];
  volatile int stopping;  /* SIGTERM/SIGINT: no more fetching */
  volatile int draining;  /* sandq drain: no more fetching */
  volatile int releasing; /* grace ran out: give jobs back */
  volatile int redis_up;
  unsigned beat_fails;               /* heartbeats failed in a row (supervisor only) */
  unsigned long long policy_checked; /* the connection whose eviction policy was read */
  struct worker_stats stats;         /* guarded by lock */
  uint64_t started_ms;
};

/* Reads the config file, then the command line, into cfg, and gives the
 * Redis address (with redis_password_file's password) (worker/config.c).
 * A bad option exits 2 with one line naming it; --help and --version
 * exit 0. */
void worker_configure (struct worker_config *cfg, int argc, char **argv,
                       struct sq_redis_addr *addr);

/* The main thread until the worker stops (worker/supervisor.c): renews
 * leases, publishes live output, heartbeats, reaps; on SIGTERM or drain
 * waits out the grace period and gives the rest back; joins the slots.
 * Returns its Redis round trips. */
unsigned long long supervise (struct worker *w, const struct sq_redis_addr *addr);

/* Slot thread entry point. */
void *slot_main (void *arg);

/* Gives the job held in s->next back to its queue (why: for the log), and
 * forgets it. */
void slot_give_back (struct slot *s, struct sq_proto *p, const char *why);

/* Makes the job in s->next known to the lease renewals (slot_hold), and
 * forgets it again, freeing s->next (slot_unhold). */
void slot_hold (struct slot *s);
void slot_unhold (struct slot *s);

/* Publishes what is new of the running jobs' output (worker/live.c). */
void live_publish (struct worker *w, struct sq_proto *p);

/* Runs one claimed job to its verdict and reports it (worker/job.c). */
void job_run (struct slot *s, struct sq_proto *p, struct sq_claimed *c);

/* Shutting down: a claimed job goes back to its queue without using an
 * attempt (counted in stats.released once Redis has taken it back). Not
 * counted: a job whose lease is no longer ours (its holder decides), one
 * cancelled meanwhile (it ends cancelled), or a failed call (the lease
 * expires instead). */
void job_release (struct slot *s, struct sq_proto *p, const char *queue, const char *id,
                  const char *token);

#endif
