/* The worker's main thread: it renews the leases of running jobs (never
 * the sandboxed children: a busy job must not miss its renewals),
 * publishes their live output, sends heartbeats and queue gauges, reaps
 * the jobs of dead workers, and on stop or drain waits out the grace
 * period, then gives the rest back to the queue. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../common/version.h"
#include "metrics.h"
#include "notify.h"
#include "worker.h"

static void
heartbeat (struct worker *w, struct sq_proto *p)
{
  char jobs[4096] = "", now[32], busy[16], slots[16], started[32];
  size_t jl = 0;
  int nbusy = 0;
  sq_err err = { 0 };
  char queues[1024] = "";
  size_t ql = 0;

  pthread_mutex_lock (&w->lock);
  for (int i = 0; i < w->cfg.concurrency; i++)
    if (w->slots[i].state == SLOT_BUSY)
      {
        nbusy++;
        jl += snprintf (jobs + jl, jl < sizeof jobs ? sizeof jobs - jl : 0, "%s%s/%s",
                        jl ? "," : "", w->slots[i].queue, w->slots[i].id);
      }
  pthread_mutex_unlock (&w->lock);
  for (int i = 0; i < w->cfg.nqueues; i++)
    ql += snprintf (queues + ql, sizeof queues - ql, "%s%s", i ? "," : "",
                    w->cfg.queues[i]);
  uint64_t wall = sq_wall_ms ();
  snprintf (now, sizeof now, "%" PRIu64, wall);
  snprintf (busy, sizeof busy, "%d", nbusy);
  snprintf (slots, sizeof slots, "%d", w->cfg.concurrency);
  snprintf (started, sizeof started, "%" PRIu64, w->started_ms);
  char host[256] = "";
  gethostname (host, sizeof host - 1);
  char pid[16];
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  const char *state = w->stopping ? "stopping" : w->draining ? "draining" : "running";
  /* The most a job may ask of it, for sandq submit to check first. */
  char caps[512] = "";
  size_t cl = 0;
  for (int i = 0; i < SQ_LIM__COUNT; i++)
    cl += snprintf (caps + cl, cl < sizeof caps ? sizeof caps - cl : 0, "%s%s=%" PRIu64,
                    i ? "," : "", sq_limit_names[i], w->cfg.policy.max[i]);
  const char *fields[]
      = { "host",       host,    "pid",   pid,   "version",      SANDQ_VERSION,
          "slots",      slots,   "busy",  busy,  "jobs",         jobs,
          "queues",     queues,  "state", state, "heartbeat_at", now,
          "started_at", started, "caps",  caps };
  int drain = sq_worker_heartbeat (p, w->cfg.id, wall, fields,
                                   (int) SQ_ARRAY_SIZE (fields), &err);
  if (drain < 0)
    {
      /* Without a heartbeat the worker is not in sandq workers and
       * systemd hears no READY: say why, at once and then each minute. */
      if (w->beat_fails++ % 30 == 0)
        sq_warn ("heartbeat: %s", err.msg);
      w->redis_up = 0;
      return;
    }
  if (w->beat_fails)
    sq_notice ("heartbeat: sent again after %u refused or failed", w->beat_fails);
  w->beat_fails = 0;
  w->redis_up = 1;
  if (drain && !w->draining)
    {
      sq_notice ("drain requested: finishing running jobs, fetching no more");
      w->draining = 1;
    }
}

/* Queue depth and the age of the oldest waiting job, for /metrics. */
static void
queue_gauges (struct worker *w, sq_redis *r)
{
  for (int q = 0; q < w->cfg.nqueues; q++)
    {
      struct sq_waiting wt;
      sq_err err = { 0 };
      if (sq_queue_waiting (r, w->cfg.queues[q], &wt, &err) < 0)
        return;
      pthread_mutex_lock (&w->lock);
      w->stats.queue_depth[q] = wt.total;
      w->stats.queue_oldest_ms[q] = wt.oldest_ms;
      pthread_mutex_unlock (&w->lock);
    }
}

static void
renew_leases (struct worker *w, struct sq_proto *p)
{
  for (int q = 0; q < w->cfg.nqueues; q++)
    {
      /* Each slot's running job, and the job it holds for next (the
       * first queue's, claimed behind its last verdict). */
      const char *ids[2 * SQ_MAX_SLOTS], *tokens[2 * SQ_MAX_SLOTS];
      char idb[2 * SQ_MAX_SLOTS][SQ_ID_MAX + 1], tokb[2 * SQ_MAX_SLOTS][192];
      int slot_of[2 * SQ_MAX_SLOTS], held[2 * SQ_MAX_SLOTS], n = 0;
      enum sq_lease_state st[2 * SQ_MAX_SLOTS];
      sq_err err = { 0 };

      pthread_mutex_lock (&w->lock);
      for (int i = 0; i < w->cfg.concurrency; i++)
        {
          struct slot *s = &w->slots[i];
          for (int h = 0; h < 2; h++)
            {
              const char *id = h ? s->held_id : s->id;
              if (h ? !s->held_id[0] || q != 0
                    : s->state != SLOT_BUSY || strcmp (s->queue, w->cfg.queues[q]) != 0)
                continue;
              snprintf (idb[n], sizeof idb[n], "%s", id);
              snprintf (tokb[n], sizeof tokb[n], "%s", h ? s->held_token : s->token);
              ids[n] = idb[n];
              tokens[n] = tokb[n];
              held[n] = h;
              slot_of[n++] = i;
            }
        }
      pthread_mutex_unlock (&w->lock);
      if (!n)
        continue;
      /* At most 120 leases a call (sq_renew); 2 x 64 is more. */
      int half = n > 120 ? n / 2 : n;
      if (sq_renew (p, w->cfg.queues[q], w->cfg.lease_ms, half, ids, tokens, st, &err) < 0
          || (half < n
              && sq_renew (p, w->cfg.queues[q], w->cfg.lease_ms, n - half, ids + half,
                           tokens + half, st + half, &err)
                     < 0))
        {
          sq_warn ("renew leases: %s", err.msg);
          continue;
        }
      pthread_mutex_lock (&w->lock);
      for (int k = 0; k < n; k++)
        {
          struct slot *s = &w->slots[slot_of[k]];
          if (held[k])
            {
              /* The slot gives it back instead of running it. */
              if (st[k] != SQ_LEASE_OK && strcmp (s->held_id, idb[k]) == 0)
                s->held_off = 1;
              continue;
            }
          if (strcmp (s->id, idb[k]) != 0 || st[k] == SQ_LEASE_OK)
            continue;
          if (st[k] == SQ_LEASE_CANCEL && !s->cancel)
            {
              sq_notice ("job %s: cancelled, stopping it", s->id);
              s->cancel = 1;
            }
          else if (st[k] == SQ_LEASE_LOST && !s->lost)
            {
              sq_warn ("job %s: lease lost (taken over); stopping it", s->id);
              s->lost = 1;
            }
          if (s->sbx)
            sbx_cancel (s->sbx);
        }
      pthread_mutex_unlock (&w->lock);
    }
}

static void
reap (struct worker *w, struct sq_proto *p)
{
  for (int q = 0; q < w->cfg.nqueues; q++)
    {
      long long c[3];
      sq_err err = { 0 };
      if (sq_reap (p, w->cfg.queues[q], w->cfg.max_reclaims, c, &err) < 0)
        continue;
      if (c[0] || c[1] || c[2])
        sq_notice ("queue %s: requeued %lld job(s) of dead workers, dead-lettered "
                   "%lld, finished %lld cancelled",
                   w->cfg.queues[q], c[0], c[1], c[2]);
      pthread_mutex_lock (&w->lock);
      w->stats.reclaims_seen += (uint64_t) c[0];
      pthread_mutex_unlock (&w->lock);
    }
}

static int
busy_slots (struct worker *w)
{
  int n = 0;
  pthread_mutex_lock (&w->lock);
  for (int i = 0; i < w->cfg.concurrency; i++)
    n += w->slots[i].state == SLOT_BUSY;
  pthread_mutex_unlock (&w->lock);
  return n;
}

/* Grace ran out: the running jobs go back to the queue, attempt unused. */
static void
release_all (struct worker *w)
{
  sq_notice ("grace period over: giving %d job(s) back to the queue", busy_slots (w));
  w->releasing = 1;
  pthread_mutex_lock (&w->lock);
  for (int i = 0; i < w->cfg.concurrency; i++)
    if (w->slots[i].state == SLOT_BUSY)
      {
        w->slots[i].release = 1;
        if (w->slots[i].sbx)
          sbx_cancel (w->slots[i].sbx);
      }
  pthread_mutex_unlock (&w->lock);
}

/* On each new connection to Redis (a restart forgets scripts): load the
 * protocol's scripts, for roles that may only call them, and name the
 * queues served in the queue set, which submitter roles may not write. */
static int
announce (struct worker *w, struct sq_proto *p)
{
  sq_err err = { 0 };
  if (sq_proto_load_scripts (p, &err) < 0)
    {
      sq_warn ("cannot load sandq's scripts into Redis: %s", err.msg);
      return -1;
    }
  for (int i = 0; i < w->cfg.nqueues; i++)
    if (sq_queue_add (p->r, w->cfg.queues[i], &err) < 0)
      {
        /* A full Redis refuses even a member it holds; the queue is
         * added again with the next announcement, in 30 s, without
         * loading every script again every 2 s meanwhile. */
        if (p->r->full)
          continue;
        sq_warn ("cannot add queue '%s' to the queue set: %s", w->cfg.queues[i], err.msg);
        return -1;
      }
  /* Once a connection: a Redis that evicts keys when full drops jobs. A
   * user whose ACL does not allow INFO is not asked again. */
  char policy[64];
  if (w->policy_checked != p->r->nconnects
      && sq_redis_maxmemory_policy (p->r, policy, sizeof policy, &err) == 0
      && strcmp (policy, "noeviction") != 0)
    sq_warn (
        "Redis at %s evicts keys when it is full (maxmemory-policy %s): queued jobs, "
        "their inputs and results can vanish; set maxmemory-policy noeviction",
        p->r->where, policy);
  w->policy_checked = p->r->nconnects;
  return 0;
}

unsigned long long
supervise (struct worker *w, const struct sq_redis_addr *addr)
{
  const struct worker_config *cfg = &w->cfg;
  sq_redis r = { .timeout_ms = 2000, .addr = *addr };
  struct sq_proto p;
  sq_err err = { 0 };
  sq_proto_init (&p, &r);
  uint64_t renew_every = cfg->lease_ms / 3 < 2000 ? cfg->lease_ms / 3 : 2000;
  uint64_t reap_every = cfg->lease_ms / 2;
  uint64_t next_renew = 0, next_beat = 0, next_reap = 0, next_live = 0, stop_at = 0;
  unsigned long long loaded_at = 0;
  uint64_t next_announce = 0;
  int notified_ready = 0;

  for (;;)
    {
      uint64_t now = sq_now_ms ();
      if ((w->stopping || w->draining) && !stop_at)
        {
          stop_at = now + cfg->grace_ms;
          sq_notice ("%s: waiting up to %" PRIu64 " ms for %d running job(s)",
                     w->stopping ? "stopping" : "draining", cfg->grace_ms,
                     busy_slots (w));
        }
      if (stop_at && busy_slots (w) == 0)
        break;
      if (stop_at && now >= stop_at && !w->releasing)
        release_all (w);
      if (now >= next_renew)
        {
          renew_leases (w, &p);
          next_renew = now + renew_every;
        }
      if (now >= next_live)
        {
          live_publish (w, &p);
          next_live = now + 500;
        }
      if (now >= next_beat)
        {
          heartbeat (w, &p);
          /* Again now and then: SCRIPT FLUSH forgets scripts too. */
          if (r.c && (r.nconnects != loaded_at || now >= next_announce)
              && announce (w, &p) == 0)
            {
              loaded_at = r.nconnects;
              next_announce = now + 30000;
            }
          queue_gauges (w, &r);
          next_beat = now + 2000;
          if (!notified_ready && w->redis_up)
            {
              notify_ready (w);
              notified_ready = 1;
            }
          notify_status (w, busy_slots (w));
        }
      if (now >= next_reap && !w->stopping)
        {
          reap (w, &p);
          next_reap = now + reap_every;
        }
      struct timespec ts = { 0, 100 * 1000000 };
      nanosleep (&ts, NULL);
    }
  notify_stopping ();
  /* The slots notice stopping/draining within a second (BLPOP timeout). */
  for (int i = 0; i < cfg->concurrency; i++)
    pthread_join (w->slots[i].thread, NULL);
  sq_worker_forget (&r, cfg->id, &err);
  sq_redis_close (&r);
  return r.ncommands;
}
