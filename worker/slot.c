/* A slot: one thread, one Redis connection, one sandbox at a time.
 *
 * It claims from the queues in the order given (so a bulk queue never
 * starves an interactive one), runs the job, reports, and starts again.
 * The sandbox library keeps the slot's next sandbox ready meanwhile (see
 * sbx_prewarm). When every queue is empty it blocks on the queues' wake
 * lists for up to a second. When Redis goes away it reconnects with backoff and jitter.
 */
#define _GNU_SOURCE
#include "worker.h"

#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"

static void
wait_for_work (struct worker *w, sq_redis *r)
{
  const char *queues[SQ_MAX_QUEUES];
  sq_err err = { 0 };

  for (int i = 0; i < w->cfg.nqueues; i++)
    queues[i] = w->cfg.queues[i];
  sq_wake_wait (r, queues, w->cfg.nqueues, 1, &err);
}

void *
slot_main (void *arg)
{
  struct slot *s = arg;
  struct worker *w = s->w;
  sq_redis r = { .timeout_ms = 5000 };
  struct sq_proto p;
  unsigned fails = 0;
  sq_err err = { 0 };

  archiver_init (&s->arc);
  sq_redis_parse_url (w->cfg.redis_url, &r.addr, &err);
  /* The next job's sandbox is built beside the current one: a job then
   * waits only for its program's own start. */
  if (sbx_prewarm (w->host, (unsigned) s->idx, &err) < 0)
    sq_warn ("slot %d: %s; each job will make its own sandbox", s->idx, err.msg);
  sq_proto_init (&p, &r);
  while (!w->stopping && !w->draining)
    {
      int got = 0, all_paused = 1;

      if (!r.c && sq_redis_connect (&r, &err) < 0)
        {
          if (fails++ % 20 == 0)
            sq_warn ("slot %d: %s; retrying", s->idx, err.msg);
          w->redis_up = 0;
          sq_redis_backoff (fails);
          continue;
        }
      if (fails)
        sq_notice ("slot %d: connected to Redis at %s", s->idx, r.where);
      fails = 0;
      w->redis_up = 1;
      /* The next job's archive process is made now, not when the job
       * waits. */
      if (archiver_prepare (&s->arc, &w->archiver,
                            sbx_slot_netns_fd (w->host, (unsigned) s->idx), &err)
          < 0)
        sq_warn ("slot %d: %s", s->idx, err.msg);
      for (int q = 0; q < w->cfg.nqueues && !got; q++)
        {
          struct sq_claimed c;
          int rc = sq_claim (&p, w->cfg.queues[q], w->cfg.id, w->cfg.lease_ms, &c, &err);
          if (rc < 0)
            {
              sq_warn ("slot %d: claim from '%s': %s", s->idx, w->cfg.queues[q], err.msg);
              break;
            }
          if (rc != 2)
            all_paused = 0;
          if (rc != 1)
            continue;
          got = 1;
          pthread_mutex_lock (&w->lock);
          s->state = SLOT_BUSY;
          snprintf (s->queue, sizeof s->queue, "%s", w->cfg.queues[q]);
          snprintf (s->id, sizeof s->id, "%s", c.id);
          snprintf (s->token, sizeof s->token, "%s", c.token);
          s->cancel = s->lost = s->release = 0;
          s->started_ms = sq_now_ms ();
          pthread_mutex_unlock (&w->lock);

          job_run (s, &p, &c);
          sq_claimed_free (&c);
          s->backlog = 1;

          pthread_mutex_lock (&w->lock);
          s->state = SLOT_IDLE;
          s->id[0] = s->token[0] = '\0';
          pthread_mutex_unlock (&w->lock);
        }
      if (!got)
        s->backlog = 0;
      if (!got && r.c && !w->stopping && !w->draining)
        {
          if (all_paused)
            sq_redis_backoff (5);
          else
            wait_for_work (w, &r);
        }
    }
  sbx_unwarm (w->host, (unsigned) s->idx);
  archiver_fini (&s->arc);
  pthread_mutex_lock (&w->lock);
  w->stats.slot_commands += r.ncommands;
  pthread_mutex_unlock (&w->lock);
  sq_redis_close (&r);
  return NULL;
}
