/* The sandbox's life cycle: the host, the limits and the scratch disk. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/tree.h"
#include "../common/util.h"

char *const sbx_default_env[] = {
  "PATH=" SBX_PATH, "HOME=/work",      "TMPDIR=/tmp",    "LANG=C.UTF-8",
  "USER=sandbox",   "LOGNAME=sandbox", "MPLBACKEND=Agg", NULL,
};

void
sbx_limits_default (struct sbx_limits *lim)
{
  lim->memory_bytes = SBX_DEFAULT_MEMORY;
  lim->cpu_ms = SBX_DEFAULT_CPU_MS;
  lim->wall_ms = SBX_DEFAULT_WALL_MS;
  lim->pids = SBX_DEFAULT_PIDS;
  lim->output_bytes = SBX_DEFAULT_OUTPUT;
  lim->disk_bytes = SBX_DEFAULT_DISK;
  lim->disk_inodes = SBX_DEFAULT_INODES;
  lim->nofile = SBX_DEFAULT_NOFILE;
  lim->cpu_millicores = SBX_DEFAULT_MILLICORES;
}

void
sbx_limits_set (struct sbx_limits *lim, enum sq_limit which, uint64_t v)
{
  uint64_t *field[SQ_LIM__COUNT] = {
    [SQ_LIM_MEMORY] = &lim->memory_bytes, [SQ_LIM_CPU] = &lim->cpu_ms,
    [SQ_LIM_WALL] = &lim->wall_ms,        [SQ_LIM_PIDS] = &lim->pids,
    [SQ_LIM_OUTPUT] = &lim->output_bytes, [SQ_LIM_DISK] = &lim->disk_bytes,
    [SQ_LIM_INODES] = &lim->disk_inodes,
  };
  if (which == SQ_LIM_MILLICORES)
    lim->cpu_millicores = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
  else if ((unsigned) which < SQ_LIM__COUNT)
    *field[which] = v;
}

static int
check_range (const char *name, uint64_t v, uint64_t min, uint64_t max, int is_size,
             sq_err *err)
{
  char a[32], b[32];

  if (v >= min && v <= max)
    return 0;
  if (is_size)
    {
      sq_format_size (min, a, sizeof a);
      sq_format_size (max, b, sizeof b);
    }
  else
    {
      snprintf (a, sizeof a, "%" PRIu64, min);
      snprintf (b, sizeof b, "%" PRIu64, max);
    }
  sq_err_set (err, 0, "%s: out of range; use %s to %s", name, a, b);
  return sq_err_input (err); /* the job's limits */
}

int
sbx_limits_check (const struct sbx_limits *l, sq_err *err)
{
  if (check_range ("memory", l->memory_bytes, 4ULL << 20, 1ULL << 40, 1, err) < 0
      || check_range ("disk", l->disk_bytes, 1ULL << 20, 1ULL << 40, 1, err) < 0
      || check_range ("output", l->output_bytes, 0, 1ULL << 34, 1, err) < 0
      || check_range ("pids", l->pids, 1, 65536, 0, err) < 0
      || check_range ("inodes", l->disk_inodes, 16, 1ULL << 24, 0, err) < 0
      || check_range ("nofile", l->nofile, 16, 65536, 0, err) < 0
      || check_range ("cpu seconds (in ms)", l->cpu_ms, 1, 7ULL * 86400000, 0, err) < 0
      || check_range ("wall seconds (in ms)", l->wall_ms, 1, 7ULL * 86400000, 0, err) < 0
      || check_range ("cpus (in millicores)", l->cpu_millicores, 10, 1024000, 0, err) < 0)
    return -1;
  return 0;
}

static int make_netns (sq_err *err);

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
close_netns (struct sbx_host *h)
{
  for (unsigned i = 0; i < h->nnetns; i++)
    close (h->netns[i].fd);
  h->nnetns = 0;
}

/* Makes a template mount namespace in a thread of its own (it changes the
 * thread's root and mount namespace for good) and returns an fd to it. */
static void *
tmpl_main (void *arg)
{
  struct tmpl_build *t = arg;

  t->fd = -1;
  if (unshare (CLONE_FS) < 0 || unshare (CLONE_NEWNS) < 0)
    {
      snprintf (t->msg, sizeof t->msg, "unshare the mount namespace: %s",
                strerror (errno));
      return NULL;
    }
  /* The fd names the namespace, not a path: taken before the pivot. */
  t->fd = open ("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (t->fd < 0)
    snprintf (t->msg, sizeof t->msg, "open the mount namespace: %s", strerror (errno));
  else if (sbx_template_build (t->h->steps, t->h->nsteps, 0, t->msg, sizeof t->msg) < 0)
    {
      close (t->fd);
      t->fd = -1;
    }
  return NULL;
}

/* Takes the result of the build started by sbx_host_new. Under tmpl_lock. */
static void
tmpl_join (struct sbx_host *h)
{
  if (!h->tmpl_pending)
    return;
  pthread_join (h->tmpl_thread, NULL);
  h->tmpl_pending = 0;
  h->tmpl_fd = h->tmpl_build.fd;
  h->tmpl_made_ms = sq_now_ms ();
  snprintf (h->tmpl_err, sizeof h->tmpl_err, "%s", h->tmpl_build.msg);
}

/* Starts a thread of the library's own, with every signal blocked:
 * signals are for the caller's threads. */
static int
start_thread (pthread_t *th, void *(*fn) (void *), void *arg)
{
  sigset_t all, old;
  int r;

  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &old);
  r = pthread_create (th, NULL, fn, arg);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return r;
}

int
sbx_template (struct sbx_host *h, sq_err *err)
{
  int fd;

  pthread_mutex_lock (&h->tmpl_lock);
  tmpl_join (h);
  if (h->tmpl_fd < 0 || sq_now_ms () - h->tmpl_made_ms > h->cfg.template_max_age_ms)
    {
      struct tmpl_build t = { .h = h, .fd = -1 };
      pthread_t th;
      if (start_thread (&th, tmpl_main, &t) != 0)
        snprintf (t.msg, sizeof t.msg, "start a thread: %s", strerror (errno));
      else
        pthread_join (th, NULL);
      if (t.fd >= 0)
        {
          if (h->tmpl_fd >= 0)
            close (h->tmpl_fd);
          h->tmpl_fd = t.fd;
          h->tmpl_made_ms = sq_now_ms ();
        }
      else if (h->tmpl_fd < 0)
        snprintf (h->tmpl_err, sizeof h->tmpl_err, "%s", t.msg);
      /* else: keep using the old one; it is only older than wished. */
    }
  fd = h->tmpl_fd;
  if (fd < 0)
    sq_err_set (err, 0, "build the sandbox's root: %s", h->tmpl_err);
  pthread_mutex_unlock (&h->tmpl_lock);
  return fd;
}

static void
prefetch_join (struct sbx_host *h)
{
  if (__atomic_exchange_n (&h->prefetch_pending, 0, __ATOMIC_ACQ_REL))
    pthread_join (h->prefetch, NULL);
}

/* Joins the set-up threads, then closes the template and the slots'
 * network namespaces. */
static void
release_namespaces (struct sbx_host *h)
{
  prefetch_join (h);
  tmpl_join (h);
  if (h->tmpl_fd >= 0)
    close (h->tmpl_fd);
  close_netns (h);
}

struct sbx_host *
sbx_host_new (const struct sbx_host_config *cfg, sq_err *err)
{
  struct sbx_host *h = calloc (1, sizeof *h);
  uint64_t cap_last = 40;

  if (!h)
    {
      sq_err_set (err, ENOMEM, "sandbox host");
      return NULL;
    }
  if (cfg)
    h->cfg = *cfg;
  if (h->cfg.uid_base == 0)
    h->cfg.uid_base = SBX_DEFAULT_UID_BASE;
  if (h->cfg.template_max_age_ms == 0)
    h->cfg.template_max_age_ms = SBX_TEMPLATE_MAX_AGE_MS;
  if (h->cfg.uid_count == 0)
    h->cfg.uid_count = SBX_DEFAULT_UID_COUNT;
  if (geteuid () != 0)
    {
      sq_err_set (err, EPERM,
                  "the sandbox needs root (it maps uids, makes "
                  "namespaces and mounts a tmpfs)");
      free (h);
      return NULL;
    }
  h->reuse_netns = h->cfg.reuse_netns;
  pthread_mutex_init (&h->netns_lock, NULL);
  pthread_mutex_init (&h->netns_make_lock, NULL);
  pthread_mutex_init (&h->tmpl_lock, NULL);
  h->tmpl_fd = -1;
  h->init_fd = -1;
  /* A new network namespace takes about half a millisecond, and a one-shot
   * run waits for nothing longer: it starts first, and the rest of the
   * set-up goes on beside it. */
  if (h->reuse_netns && h->cfg.prefetch_count > 0
      && pthread_create (&h->prefetch, NULL, prefetch_main, h) == 0)
    h->prefetch_pending = 1;
  sq_read_u64_at (AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &cap_last, NULL);
  h->cap_last = (int) cap_last;
  if ((h->init_fd = sbx_init_memfd (err)) < 0)
    goto fail;
  if (sbx_rootfs_plan (h, err) < 0)
    goto fail;
  /* The template is built beside the cgroup set-up below. */
  h->tmpl_build = (struct tmpl_build){ .h = h, .fd = -1 };
  if (!h->cfg.one_shot && start_thread (&h->tmpl_thread, tmpl_main, &h->tmpl_build) == 0)
    h->tmpl_pending = 1;
  if (cg_host_init (&h->cg, h->cfg.one_shot, err) < 0)
    {
    fail:
      release_namespaces (h);
      if (h->init_fd >= 0)
        close (h->init_fd);
      free (h->plan);
      free (h->strings);
      free (h);
      return NULL;
    }
  cg_host_describe (&h->cg, h->desc, sizeof h->desc);
  return h;
}

const char *
sbx_host_describe (const struct sbx_host *h)
{
  return h->desc;
}

void
sbx_host_free (struct sbx_host *h)
{
  if (!h)
    return;
  for (unsigned i = 0; i < h->nwarm; i++)
    sbx_unwarm (h, h->warm[i].slot);
  release_namespaces (h);
  cg_host_fini (&h->cg);
  if (h->init_fd >= 0)
    close (h->init_fd);
  free (h->plan);
  free (h->strings);
  free (h);
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int
sbx_init_memfd (sq_err *err)
{
  size_t size = (size_t) (sbx_init_image_end - sbx_init_image);
  int fd = memfd_create ("sandq-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

  /* Kernels before 6.3 know no MFD_EXEC (and need none). */
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create ("sandq-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 && errno == EACCES)
    return sq_err_set (err, errno,
                       "memfd_create for sandq-init, the sandboxes' init: the "
                       "sysctl vm.memfd_noexec=2 forbids executable memfds");
  if (fd < 0)
    return sq_err_set (err, errno, "memfd_create for sandq-init");
  if (sq_write_all (fd, sbx_init_image, size) < 0
      || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
             < 0)
    {
      int e = errno;
      close (fd);
      return sq_err_set (err, e, "write sandq-init into its memfd");
    }
  return fd;
}

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

/* The job's whole disk: a tmpfs held by fd only (sq_tmpfs_detached). */
static int
make_scratch (const struct sbx_limits *lim, sq_err *err)
{
  return sq_tmpfs_detached (lim->disk_bytes, lim->disk_inodes, "0755",
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "scratch disk", err);
}

static struct sbx *sbx_new_cold (struct sbx_host *h, const struct sbx_limits *lim,
                                 unsigned slot, sq_err *err);

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
static int
init_exited (const struct sbx *b)
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
static struct sbx *
take_warm (struct sbx_host *h, unsigned slot)
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
      pthread_cond_broadcast (&e->cond);
    }
  pthread_mutex_unlock (&h->netns_lock);
  return b;
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
      if (e->b)
        {
          /* Check now and then that it is still alive (someone may kill
           * it), and make another if not. */
          struct timespec ts = deadline_in (1000);
          if (pthread_cond_timedwait (&e->cond, &h->netns_lock, &ts) != 0 && e->b
              && init_exited (e->b))
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
      int pr = start_thread (&e->thread, warm_main, e);
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

/* Gives the scratch disk of a prewarmed sandbox the job's size and inode
 * caps (it was made with the defaults). */
static int
resize_scratch (struct sbx *b, const struct sbx_limits *lim, sq_err *err)
{
  cleanup_close int fs = -1;

  fs = (int) syscall (SYS_fspick, b->scratch_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
  if (fs < 0)
    return sq_err_set (err, errno, "fspick the scratch disk");
  if (sq_tmpfs_caps (fs, lim->disk_bytes, lim->disk_inodes, "scratch disk", err) < 0)
    return -1;
  if (syscall (SYS_fsconfig, fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
    return sq_err_set (err, errno, "resize the scratch disk");
  return 0;
}

struct sbx *
sbx_new (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot, sq_err *err)
{
  struct sbx *b;

  if (sbx_limits_check (lim, err) < 0)
    return NULL;
  b = take_warm (h, slot);
  if (b)
    {
      sq_err rerr = { 0 };
      if (init_exited (b))
        sq_err_set (&rerr, 0, "its init is gone");
      /* Its disk and cgroup were made with the default limits; a job
       * that keeps them (most do) needs neither resized. */
      else if ((lim->disk_bytes == b->lim.disk_bytes
                && lim->disk_inodes == b->lim.disk_inodes)
               || resize_scratch (b, lim, &rerr) == 0)
        {
          b->lim = *lim;
          return b;
        }
      /* Not worth failing the job for: start a sandbox of its own. */
      sq_warn ("prewarmed sandbox of slot %u: %s; making a new one", slot, rerr.msg);
      sbx_free (b);
    }
  return sbx_new_cold (h, lim, slot, err);
}

static struct sbx *
sbx_new_cold (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot,
              sq_err *err)
{
  struct sbx *b;
  static const char *const dirs[] = { "work", "work/out", "tmp", "shm" };

  b = calloc (1, sizeof *b);
  if (!b)
    {
      sq_err_set (err, ENOMEM, "sandbox");
      return NULL;
    }
  b->host = h;
  b->slot = slot;
  b->lim = *lim;
  b->uid = h->cfg.uid_base + slot % h->cfg.uid_count;
  b->work_fd = b->out_fd = b->cancel_fd = -1;
  b->pidfd = b->sync_wr = b->rep_rd = -1;
  b->scratch_fd = make_scratch (lim, err);
  if (b->scratch_fd < 0)
    goto fail;
  for (size_t i = 0; i < SQ_ARRAY_SIZE (dirs); i++)
    if (mkdirat (b->scratch_fd, dirs[i], 0755) < 0
        || fchownat (b->scratch_fd, dirs[i], b->uid, b->uid, 0) < 0)
      {
        sq_err_set (err, errno, "create scratch '%s'", dirs[i]);
        goto fail;
      }
  /* Sticky and world-writable like any /tmp, for programs that check. */
  if (fchmodat (b->scratch_fd, "tmp", 01777, 0) < 0
      || fchmodat (b->scratch_fd, "shm", 01777, 0) < 0)
    {
      sq_err_set (err, errno, "chmod scratch tmp");
      goto fail;
    }
  b->work_fd = openat (b->scratch_fd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  b->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->work_fd < 0 || b->cancel_fd < 0)
    {
      sq_err_set (err, errno, "open scratch");
      goto fail;
    }
  return b;

fail:
  sbx_free (b);
  return NULL;
}

int
sbx_work_fd (const struct sbx *b)
{
  return b->work_fd;
}

uid_t
sbx_uid (const struct sbx *b)
{
  return b->uid;
}

int
sbx_out_fd (const struct sbx *b)
{
  return b->out_fd;
}

int
sbx_charge_files (struct sbx *b, int *join, int *leave, sq_err *err)
{
  *join = -1;
  if (leave)
    *leave = -1;
  if (b->ran)
    return sq_err_set (err, EINVAL, "the sandbox has run");
  if ((!b->started && sbx_start (b, err) < 0) || sbx_job_limits (b, err) < 0)
    return -1;
  return cg_job_charge_files (&b->host->cg, &b->job, join, leave, err);
}

int
sbx_oom_killed (struct sbx *b)
{
  struct cg_stats cs;

  if (!b->started)
    return 0;
  cg_job_stats (&b->host->cg, &b->job, &cs);
  return cs.oom_kills > 0;
}

int
sbx_copy_in (struct sbx *b, int srcdirfd, sq_err *err)
{
  struct sq_tree_limits tl = {
    .max_entries = b->lim.disk_inodes,
    .max_bytes = sq_inputs_max_bytes (b->lim.disk_bytes, b->lim.memory_bytes),
    .max_depth = 64,
    .max_path = 4095,
  };
  cleanup_close int join = -1, rd = -1;
  sq_err child = { 0 };
  int p[2], st = 0;
  pid_t pid;

  if (sbx_charge_files (b, &join, NULL, err) < 0)
    return sq_err_wrap (err, "copy the inputs into the sandbox");
  if (pipe2 (p, O_CLOEXEC) < 0)
    return sq_err_set (err, errno, "copy the inputs into the sandbox: pipe");
  rd = p[0];
  /* The copy is made by a child in the job's memory cgroup, so that the
   * pages it writes are charged to the job. Its OOM score is the
   * sandbox's: under the job's cap it, not the waiting init, is the one
   * to go. */
  pid = fork ();
  if (pid == 0)
    {
      struct sq_tree_stats ts;
      int rc = -1;
      close (p[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (write (join, "0", 1) != 1)
        sq_err_set (&child, errno, "enter the job's memory cgroup");
      else if (sq_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", SBX_OOM_SCORE_ADJ,
                                 &child)
               == 0)
        rc = sq_tree_copy (srcdirfd, b->work_fd, &tl, SQ_COPY_SYMLINKS | SQ_COPY_CHOWN,
                           b->uid, b->uid, &ts, &child);
      if (rc < 0 && write (p[1], &child, sizeof child) < 0)
        _exit (2);
      _exit (rc < 0 ? 1 : 0);
    }
  close (p[1]);
  if (pid < 0)
    return sq_err_set (err, errno, "copy the inputs into the sandbox: fork");
  ssize_t n, got = 0;
  while ((n = read (rd, (char *) &child + got, sizeof child - (size_t) got)) > 0
         || (n < 0 && errno == EINTR))
    got += n > 0 ? n : 0;
  while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return 0;
  if (WIFSIGNALED (st) && WTERMSIG (st) == SIGKILL)
    return sq_err_inputs_memory (err, b->lim.memory_bytes);
  if (got != (ssize_t) sizeof child)
    return sq_err_set (err, EIO,
                       "copy the inputs into the sandbox: the copying process "
                       "failed");
  child.msg[sizeof child.msg - 1] = '\0';
  *err = child;
  sq_err_inputs_cap (err, b->lim.disk_bytes, b->lim.memory_bytes);
  return sq_err_wrap (err, "copy the inputs into the sandbox");
}

void
sbx_cancel (struct sbx *b)
{
  uint64_t one = 1;

  if (b && b->cancel_fd >= 0 && write (b->cancel_fd, &one, sizeof one) < 0)
    return;
}

void
sbx_free (struct sbx *b)
{
  if (!b)
    return;
  sbx_abandon (b);
  sbx_net_free (b);
  if (b->out_fd >= 0)
    close (b->out_fd);
  if (b->work_fd >= 0)
    close (b->work_fd);
  if (b->cancel_fd >= 0)
    close (b->cancel_fd);
  if (b->scratch_fd >= 0)
    close (b->scratch_fd);
  free (b);
}
