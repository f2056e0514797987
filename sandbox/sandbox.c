/* The sandbox's life cycle: the host, the limits and the scratch disk. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
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
  /* The umask lives with the root and cwd that CLONE_FS just unshared, so
   * this changes this thread's alone. The root's directories and files
   * are the same for every caller: under a service's UMask=0077, /etc
   * would come out 0700 and /etc/passwd 0600, closed to the job. */
  umask (022);
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
int
sbx_start_thread (pthread_t *th, void *(*fn) (void *), void *arg)
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
      if (sbx_start_thread (&th, tmpl_main, &t) != 0)
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

/* Joins the set-up threads, then closes the template and the slots'
 * network namespaces. */
static void
release_namespaces (struct sbx_host *h)
{
  sbx_netns_release (h);
  tmpl_join (h);
  if (h->tmpl_fd >= 0)
    close (h->tmpl_fd);
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
  sbx_netns_prefetch (h);
  sq_read_u64_at (AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &cap_last, NULL);
  h->cap_last = (int) cap_last;
  if ((h->init_fd = sbx_init_memfd (err)) < 0)
    goto fail;
  if (sbx_rootfs_plan (h, err) < 0)
    goto fail;
  /* The template is built beside the cgroup set-up below. */
  h->tmpl_build = (struct tmpl_build){ .h = h, .fd = -1 };
  if (!h->cfg.one_shot
      && sbx_start_thread (&h->tmpl_thread, tmpl_main, &h->tmpl_build) == 0)
    h->tmpl_pending = 1;
  if (cg_host_detect (&h->cg, h->cfg.one_shot, err) < 0
      || (!sbx_cgroup_late (h) && sbx_host_cgroups (h, err) < 0))
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
  return h;
}

int
sbx_cgroup_late (const struct sbx_host *h)
{
  return h->cfg.one_shot && h->cg.mode == CG_MODE_V1;
}

int
sbx_host_cgroups (struct sbx_host *h, sq_err *err)
{
  if (h->cg.ready)
    return 0;
  if (cg_host_setup (&h->cg, err) < 0)
    return -1;
  cg_host_describe (&h->cg, h->desc, sizeof h->desc);
  return 0;
}

const char *
sbx_host_describe (const struct sbx_host *h)
{
  return h->desc[0] ? h->desc : "cgroup v1: made at the sandbox's start";
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

struct sbx *
sbx_new (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot, sq_err *err)
{
  struct sbx *b;

  if (sbx_limits_check (lim, err) < 0)
    return NULL;
  b = sbx_take_warm (h, slot);
  if (b)
    {
      sq_err rerr = { 0 };
      if (sbx_init_exited (b))
        sq_err_set (&rerr, 0, "its init is gone");
      /* Its disk and cgroup were made with the default limits; a job
       * that keeps them (most do) needs neither resized. */
      else if ((lim->disk_bytes == b->lim.disk_bytes
                && lim->disk_inodes == b->lim.disk_inodes)
               || sbx_scratch_resize (b, lim, &rerr) == 0)
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

struct sbx *
sbx_new_cold (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot,
              sq_err *err)
{
  struct sbx *b;

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
  b->pidfd = b->sync_wr = b->rep_rd = b->page_fd = -1;
  b->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->cancel_fd < 0)
    {
      sq_err_set (err, errno, "make the sandbox's cancel eventfd");
      goto fail;
    }
  if (sbx_scratch_make (b, err) < 0)
    goto fail;
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
  if (b->prewarmed)
    sbx_warm_resume (b->host, b->slot);
  sbx_settle (b, NULL);
  sbx_unstage (b);
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
