/* Prewarmed sandboxes: per slot, a thread of the library's own keeps one
 * sandbox started (its init waiting in its namespaces and cgroup, its
 * root built) with the default limits, so that a job's start is a take
 * from the slot, not a clone. One whose init died is replaced. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "../common/log.h"
#include "../common/util.h"

/* now + ms on CLOCK_REALTIME, for pthread_cond_timedwait. */
static struct timespec
deadline_in (long ms)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L)
    {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
  return ts;
}

/* A started sandbox whose init is gone (someone killed it as it waited). */
int
sbx_init_exited (const struct sbx *b)
{
  struct pollfd pf = { b->pidfd, POLLIN, 0 };
  return poll (&pf, 1, 0) != 0;
}

/* The slot's prewarm entry, or NULL. Under netns_lock. */
static struct warm_slot *
warm_of (struct sbx_host *h, unsigned slot)
{
  for (unsigned i = 0; i < h->nwarm; i++)
    if (h->warm[i].slot == slot)
      return &h->warm[i];
  return NULL;
}

/* Takes the slot's ready sandbox, or NULL; its thread makes the next. One
 * being made is waited for (a little): it is further along than a new
 * one, which would also compete with it for the same locks. */
struct sbx *
sbx_take_warm (struct sbx_host *h, unsigned slot)
{
  struct sbx *b = NULL;
  struct warm_slot *e;
  struct timespec until = deadline_in (50);

  pthread_mutex_lock (&h->netns_lock);
  e = warm_of (h, slot);
  while (e && !e->b && e->building && !e->stop
         && pthread_cond_timedwait (&e->cond, &h->netns_lock, &until) == 0)
    ;
  if (e && e->b)
    {
      b = e->b;
      e->b = NULL;
      /* A second at most: a job that never starts its program does
       * not keep the slot without one. */
      e->hold_until_ms = sq_now_ms () + 1000;
      pthread_cond_broadcast (&e->cond);
    }
  pthread_mutex_unlock (&h->netns_lock);
  return b;
}

void
sbx_warm_resume_by (struct sbx_host *h, unsigned slot, uint64_t at_ms)
{
  struct warm_slot *e;

  pthread_mutex_lock (&h->netns_lock);
  e = warm_of (h, slot);
  if (e && at_ms < e->hold_until_ms)
    {
      e->hold_until_ms = at_ms;
      pthread_cond_broadcast (&e->cond);
    }
  pthread_mutex_unlock (&h->netns_lock);
}

void
sbx_warm_resume (struct sbx_host *h, unsigned slot)
{
  sbx_warm_resume_by (h, slot, 0);
}

static void *
warm_main (void *arg)
{
  struct warm_slot *e = arg;
  struct sbx_host *h = e->h;
  unsigned fails = 0;

  pthread_mutex_lock (&h->netns_lock);
  while (!e->stop)
    {
      if (e->hold_until_ms)
        {
          uint64_t now = sq_now_ms ();
          if (now >= e->hold_until_ms)
            e->hold_until_ms = 0;
          else
            {
              struct timespec ts = deadline_in ((long) (e->hold_until_ms - now));
              pthread_cond_timedwait (&e->cond, &h->netns_lock, &ts);
            }
          continue;
        }
      if (e->b)
        {
          /* Check now and then that it is still alive (someone may kill
           * it), and make another if not. */
          struct timespec ts = deadline_in (1000);
          if (pthread_cond_timedwait (&e->cond, &h->netns_lock, &ts) != 0 && e->b
              && sbx_init_exited (e->b))
            {
              struct sbx *dead = e->b;
              e->b = NULL;
              pthread_mutex_unlock (&h->netns_lock);
              sbx_free (dead);
              pthread_mutex_lock (&h->netns_lock);
            }
          continue;
        }
      e->building = 1;
      pthread_mutex_unlock (&h->netns_lock);
      struct sbx_limits lim;
      sq_err err = { 0 };
      sbx_limits_default (&lim);
      struct sbx *b = sbx_new_cold (h, &lim, e->slot, &err);
      if (b && sbx_start (b, &err) < 0)
        {
          sbx_free (b);
          b = NULL;
        }
      pthread_mutex_lock (&h->netns_lock);
      e->building = 0;
      pthread_cond_broadcast (&e->cond);
      if (!b)
        {
          if (fails++ % 60 == 0)
            sq_warn ("slot %u: cannot prewarm a sandbox (jobs make their own): %s",
                     e->slot, err.msg);
          struct timespec ts = deadline_in (1000);
          pthread_cond_timedwait (&e->cond, &h->netns_lock, &ts);
          continue;
        }
      fails = 0;
      b->prewarmed = 1;
      e->b = b;
    }
  pthread_mutex_unlock (&h->netns_lock);
  return NULL;
}

int
sbx_prewarm (struct sbx_host *h, unsigned slot, sq_err *err)
{
  struct warm_slot *e;
  int r = 0;

  pthread_mutex_lock (&h->netns_lock);
  e = warm_of (h, slot);
  if (!e && h->nwarm < SBX_NETNS_SLOTS)
    {
      e = &h->warm[h->nwarm++];
      *e = (struct warm_slot){ .h = h, .slot = slot };
      pthread_cond_init (&e->cond, NULL);
    }
  if (!e)
    r = sq_err_set (err, ENOSPC, "more than %d prewarmed slots", SBX_NETNS_SLOTS);
  else if (!e->running)
    {
      e->stop = 0;
      int pr = sbx_start_thread (&e->thread, warm_main, e);
      if (pr != 0)
        r = sq_err_set (err, pr, "start the prewarm thread of slot %u", slot);
      else
        e->running = 1;
    }
  pthread_mutex_unlock (&h->netns_lock);
  return r;
}

int
sbx_prewarm_wait (struct sbx_host *h, unsigned slot, int timeout_ms)
{
  uint64_t until = sq_now_ms () + (uint64_t) timeout_ms;
  int ready = 0;

  for (;;)
    {
      pthread_mutex_lock (&h->netns_lock);
      struct warm_slot *e = warm_of (h, slot);
      ready = e && e->b;
      pthread_mutex_unlock (&h->netns_lock);
      if (ready || !e || sq_now_ms () >= until)
        break;
      struct timespec ts = { 0, 200000 };
      nanosleep (&ts, NULL);
    }
  return ready ? 0 : -1;
}

void
sbx_unwarm (struct sbx_host *h, unsigned slot)
{
  struct warm_slot *e;
  struct sbx *b = NULL;
  pthread_t th;
  int join = 0;

  pthread_mutex_lock (&h->netns_lock);
  e = warm_of (h, slot);
  if (e && e->running)
    {
      e->stop = 1;
      th = e->thread;
      join = 1;
      pthread_cond_broadcast (&e->cond);
    }
  pthread_mutex_unlock (&h->netns_lock);
  if (join)
    pthread_join (th, NULL);
  pthread_mutex_lock (&h->netns_lock);
  if (e)
    {
      b = e->b;
      e->b = NULL;
      e->running = 0;
    }
  pthread_mutex_unlock (&h->netns_lock);
  sbx_free (b);
}
