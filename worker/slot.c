/* A slot: one thread, one Redis connection, one sandbox at a time.
 *
 * It claims from the queues in the order given (so a bulk queue never
 * starves an interactive one), runs the job, reports, and starts again.
 * The sandbox library keeps the slot's next sandbox ready meanwhile (see
 * sbx_prewarm). Its claim from the first queue rides behind the verdict
 * it reports. When every queue is empty it blocks on the queues' wake
 * lists for up to a second, its claim from the first queue sent behind
 * the wait. When Redis goes away it reconnects with backoff and jitter.
 */
#define _GNU_SOURCE
#include "worker.h"

#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"

/* Runs a claimed job and makes the slot idle again. */
static void
run_claimed (struct slot *s, struct sq_proto *p, int q, struct sq_claimed *c)
{
  struct worker *w = s->w;

  pthread_mutex_lock (&w->lock);
  s->state = SLOT_BUSY;
  snprintf (s->queue, sizeof s->queue, "%s", w->cfg.queues[q]);
  snprintf (s->id, sizeof s->id, "%s", c->id);
  snprintf (s->token, sizeof s->token, "%s", c->token);
  s->cancel = s->lost = s->release = 0;
  s->started_ms = sq_now_ms ();
  pthread_mutex_unlock (&w->lock);

  job_run (s, p, c);
  sq_claimed_free (c);
  s->backlog = 1;

  pthread_mutex_lock (&w->lock);
  s->state = SLOT_IDLE;
  s->id[0] = s->token[0] = '\0';
  pthread_mutex_unlock (&w->lock);
}

void
slot_give_back (struct slot *s, struct sq_proto *p, const char *why)
{
  sq_err err = { 0 };

  sq_log_set_job (s->next.id);
  int rc = sq_release (p, s->w->cfg.queues[0], s->next.id, s->next.token, &err);
  if (rc < 0)
    sq_warn ("claimed, not run: %s; giving it back failed (%s), so its lease will "
             "expire and it will run elsewhere",
             why, err.msg);
  else if (rc == 0)
    sq_notice ("claimed, not run: %s; its lease is no longer this worker's", why);
  else if (rc == 2)
    sq_notice ("claimed, not run: %s; it had been cancelled, and is now", why);
  else if (rc == 1)
    {
      sq_notice ("claimed, not run: %s; given back to the queue", why);
      pthread_mutex_lock (&s->w->lock);
      s->w->stats.released++;
      pthread_mutex_unlock (&s->w->lock);
    }
  sq_log_set_job (NULL);
  slot_unhold (s);
}

void
slot_hold (struct slot *s)
{
  pthread_mutex_lock (&s->w->lock);
  snprintf (s->held_id, sizeof s->held_id, "%s", s->next.id);
  snprintf (s->held_token, sizeof s->held_token, "%s", s->next.token);
  s->held_off = 0;
  pthread_mutex_unlock (&s->w->lock);
}

void
slot_unhold (struct slot *s)
{
  pthread_mutex_lock (&s->w->lock);
  s->held_id[0] = s->held_token[0] = '\0';
  s->held_off = 0;
  pthread_mutex_unlock (&s->w->lock);
  sq_claimed_free (&s->next);
  s->next_rc = -1;
}

/* A job claimed behind the last verdict waits for the slot's cleanup
 * (its lease renewed meanwhile). It goes back if the worker began to stop,
 * and is dropped if a renewal found it cancelled or taken over (release
 * then records a cancel, and leaves another's lease alone). */
static void
check_held (struct slot *s, struct sq_proto *p)
{
  struct worker *w = s->w;

  if (s->next_rc != 1)
    return;
  pthread_mutex_lock (&w->lock);
  int off = s->held_off;
  pthread_mutex_unlock (&w->lock);
  if (w->stopping || w->draining)
    slot_give_back (s, p, "the worker is stopping");
  else if (off)
    slot_give_back (s, p, "it was cancelled or taken over before it could start");
}

/* Blocks on the queues' wake lists for up to a second; the claim from the
 * first queue goes behind the wait, so a job that arrives is claimed in
 * the same round trip. Returns as sq_claim. */
static int
wait_and_claim (struct slot *s, struct sq_proto *p, struct sq_claimed *c)
{
  struct worker *w = s->w;
  const char *queues[SQ_MAX_QUEUES];
  sq_err err = { 0 };

  for (int i = 0; i < w->cfg.nqueues; i++)
    queues[i] = w->cfg.queues[i];
  int rc = sq_claim_after_wake (p, queues, w->cfg.nqueues, 1, w->cfg.id, w->cfg.lease_ms,
                                c, &err);
  if (rc < 0)
    {
      sq_warn ("slot %d: wait for jobs: %s", s->idx, err.msg);
      if (p->r->c)
        sq_redis_backoff (5);
    }
  else if (rc == 1 && (w->stopping || w->draining))
    {
      /* Claimed as the worker began to stop. */
      job_release (s, p, w->cfg.queues[0], c->id, c->token);
      sq_claimed_free (c);
      rc = 0;
    }
  return rc;
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
  s->next_rc = -1;
  while (!w->stopping && !w->draining)
    {
      int got = 0, all_paused = 1;

      check_held (s, &p);

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
          int rc;
          if (q == 0 && s->next_rc >= 0)
            {
              /* Answered behind the last verdict or wait. */
              rc = s->next_rc;
              c = s->next;
              memset (&s->next, 0, sizeof s->next);
              slot_unhold (s);
            }
          else
            rc = sq_claim (&p, w->cfg.queues[q], w->cfg.id, w->cfg.lease_ms, &c, &err);
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
          run_claimed (s, &p, q, &c);
        }
      if (!got)
        s->backlog = 0;
      if (!got && r.c && !w->stopping && !w->draining)
        {
          struct sq_claimed c;
          int rc = -1;
          if (all_paused)
            sq_redis_backoff (5);
          else
            rc = wait_and_claim (s, &p, &c);
          if (rc == 1)
            run_claimed (s, &p, 0, &c);
          else if (rc >= 0 && r.c)
            s->next_rc = rc;
        }
    }
  check_held (s, &p);
  sbx_unwarm (w->host, (unsigned) s->idx);
  archiver_fini (&s->arc);
  pthread_mutex_lock (&w->lock);
  w->stats.slot_commands += r.ncommands;
  pthread_mutex_unlock (&w->lock);
  sq_redis_close (&r);
  return NULL;
}
