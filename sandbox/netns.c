/* The network namespaces a host keeps per slot: made on first use (or
 * ahead, by the prefetch thread of a one-shot host), each with only a
 * loopback device. A worker's sandboxes get a fresh namespace per run
 * (run.c); these serve the network helpers and the CLI's one sandbox. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/util.h"

/* Makes a network namespace with only a loopback device, up, and returns
 * an fd to it. The calling thread switches into it and back: network
 * namespaces are per thread, so the rest of the process is unaffected. */
static int
make_netns (sq_err *err)
{
  int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int ns = -1;

  if (self < 0)
    return sq_err_set (err, errno, "open /proc/thread-self/ns/net");
  if (unshare (CLONE_NEWNET) < 0)
    {
      sq_err_set (err, errno,
                  "make a network namespace for the sandboxes (needs CAP_SYS_ADMIN)");
      close (self);
      return -1;
    }
  ns = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    sq_err_set (err, errno, "open the sandboxes' network namespace");
  else if (sbx_loopback_up () < 0)
    {
      sq_err_set (err, errno,
                  "bring up the loopback device of the sandboxes' network namespace "
                  "(needs CAP_NET_ADMIN)");
      close (ns);
      ns = -1;
    }
  /* Back to where the thread was; if that failed the thread would talk
   * to Redis from the wrong namespace, so that is fatal for the caller. */
  if (setns (self, CLONE_NEWNET) < 0)
    {
      close (self);
      if (ns >= 0)
        close (ns);
      abort ();
    }
  close (self);
  return ns;
}

/* The slot's entry in the namespace table, or NULL. Under netns_lock. */
static int *
netns_of (struct sbx_host *h, unsigned slot)
{
  for (unsigned i = 0; i < h->nnetns; i++)
    if (h->netns[i].slot == slot)
      return &h->netns[i].fd;
  return NULL;
}

/* Makes the slot's namespace unless it exists; returns its fd or -1. */
static int
netns_make_for (struct sbx_host *h, unsigned slot, sq_err *err)
{
  int *have, fd;

  pthread_mutex_lock (&h->netns_lock);
  have = netns_of (h, slot);
  pthread_mutex_unlock (&h->netns_lock);
  if (have)
    return *have;
  /* A slot's own run and its prewarm thread may both get here first:
   * one makes it, the other then finds it. */
  pthread_mutex_lock (&h->netns_make_lock);
  pthread_mutex_lock (&h->netns_lock);
  have = netns_of (h, slot);
  pthread_mutex_unlock (&h->netns_lock);
  if (have)
    {
      pthread_mutex_unlock (&h->netns_make_lock);
      return *have;
    }
  fd = make_netns (err);
  if (fd < 0)
    {
      pthread_mutex_unlock (&h->netns_make_lock);
      return -1;
    }
  pthread_mutex_lock (&h->netns_lock);
  if (h->nnetns < SBX_NETNS_SLOTS)
    h->netns[h->nnetns++] = (typeof (h->netns[0])){ slot, fd };
  else
    {
      close (fd);
      fd = -1;
    }
  pthread_mutex_unlock (&h->netns_lock);
  pthread_mutex_unlock (&h->netns_make_lock);
  return fd;
}

static void *
prefetch_main (void *arg)
{
  struct sbx_host *h = arg;

  for (unsigned i = 0; i < h->cfg.prefetch_count; i++)
    netns_make_for (h, h->cfg.prefetch_slot + i, NULL);
  return NULL;
}

static void
prefetch_join (struct sbx_host *h)
{
  if (__atomic_exchange_n (&h->prefetch_pending, 0, __ATOMIC_ACQ_REL))
    pthread_join (h->prefetch, NULL);
}

/* Keeps thread t off the CPU the caller runs on, if another is allowed.
 * The kernel starts a thread on its creator's CPU while the others idle,
 * and spreads them only at a later balancing tick: the prefetch would
 * share one CPU with the set-up it is meant to run beside. Best effort:
 * a thread left where it is only runs later. (Moving the supervisor off
 * init's CPU after the clone, the same way, made the CLI slower: waking
 * an idle CPU for a few hundred microseconds of work costs more than it
 * saves.) */
static void
run_elsewhere (pthread_t t)
{
  cpu_set_t set;
  int here = sched_getcpu ();

  if (here < 0 || here >= CPU_SETSIZE || sched_getaffinity (0, sizeof set, &set) < 0
      || !CPU_ISSET (here, &set) || CPU_COUNT (&set) < 2)
    return;
  CPU_CLR (here, &set);
  (void) pthread_setaffinity_np (t, sizeof set, &set);
}

void
sbx_netns_prefetch (struct sbx_host *h)
{
  /* A new network namespace takes about half a millisecond, and a one-shot
   * run waits for nothing longer: it starts first, on another CPU, and the
   * rest of the set-up goes on beside it. */
  if (h->reuse_netns && h->cfg.prefetch_count > 0
      && pthread_create (&h->prefetch, NULL, prefetch_main, h) == 0)
    {
      h->prefetch_pending = 1;
      run_elsewhere (h->prefetch);
    }
}

void
sbx_netns_release (struct sbx_host *h)
{
  prefetch_join (h);
  for (unsigned i = 0; i < h->nnetns; i++)
    close (h->netns[i].fd);
  h->nnetns = 0;
}

int
sbx_slot_netns (struct sbx_host *h, unsigned slot, sq_err *err)
{
  if (!h->reuse_netns)
    return sq_err_set (err, 0, "this host makes a network namespace per run");
  /* Only this slot's own runs, one at a time, use or make its entry. If
   * the prefetch thread is making it, netns_make_for waits for its make
   * lock, which the thread drops as soon as the entry is in the table:
   * not for the thread's exit (prefetch_join, at sbx_host_free). */
  return netns_make_for (h, slot, err);
}

int
sbx_slot_netns_fd (struct sbx_host *h, unsigned slot)
{
  return sbx_slot_netns (h, slot, NULL);
}
