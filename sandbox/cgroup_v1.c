/* Cgroups for sandboxes, the v1 half (also a v1/v2 hybrid, where the
 * limits are on v1): one directory per distinct hierarchy, and for a
 * process that runs many jobs a pool of reusable sets (struct cg_set in
 * cgroup.h). See cgroup.h for the layout. */
#define _GNU_SOURCE
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/util.h"

static int set_destroy (struct cg_host *h, struct cg_set *s);

static int
v1_init (struct cg_host *h, sq_err *err)
{
  struct stat seen[CG_NCTRL];

  h->ndirs = 0;
  for (int c = 0; c < CG_NCTRL; c++)
    {
      char mnt[256], own[512], base[1024], inst[1200];
      cleanup_close int bfd = -1;
      int sfd;
      struct stat st;
      int dup_of = -1;

      snprintf (mnt, sizeof mnt, CG_MOUNT "/%s", cg_ctrl_names[c]);
      if (stat (mnt, &st) < 0)
        return sq_err_set (err, errno,
                           "cgroup v1: the %s controller is not mounted at '%s'",
                           cg_ctrl_names[c], mnt);
      for (int i = 0; i < h->ndirs; i++)
        if (seen[i].st_dev == st.st_dev)
          dup_of = i;
      if (dup_of >= 0)
        {
          /* cpu and cpuacct are often mounted together. */
          h->ctrl_dir[c] = dup_of;
          continue;
        }
      if (cg_own_path (cg_ctrl_names[c], own, sizeof own, err) < 0)
        return -1;
      snprintf (base, sizeof base, "%s%s", mnt, strcmp (own, "/") ? own : "");
      bfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (bfd < 0)
        return sq_err_set (err, errno, "open cgroup '%s'", base);
      sfd = h->subtree_fd[h->ndirs] = cg_subtree_open (bfd, base, err);
      if (sfd < 0)
        return -1;
      if (h->one_shot)
        {
          snprintf (inst, sizeof inst, "%s/" CG_SUBTREE, base);
          h->dirfd[h->ndirs] = fcntl (sfd, F_DUPFD_CLOEXEC, 3);
          goto opened;
        }
      if (cg_mkdir_at (sfd, h->instance, err, base) < 0)
        return -1;
      snprintf (inst, sizeof inst, "%s/" CG_SUBTREE "/%s", base, h->instance);
      h->dirfd[h->ndirs] = openat (sfd, h->instance, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    opened:
      if (h->dirfd[h->ndirs] < 0)
        return sq_err_set (err, errno, "open cgroup '%s'", inst);
      snprintf (h->path[h->ndirs], sizeof h->path[0], "%s", inst);
      seen[h->ndirs] = st;
      h->ctrl_dir[c] = h->ndirs++;
    }
  h->pooled = !h->one_shot;
  h->has_memsw = faccessat (h->dirfd[h->ctrl_dir[CG_MEMORY]],
                            "memory.memsw.limit_in_bytes", W_OK, 0)
                 == 0;
  return 0;
}

/* ---- The pool of reusable v1 sets (see struct cg_set in cgroup.h). */

#define CG_POOL_MAX_IDLE 64

static void
set_close_memory (struct cg_set *s)
{
  if (s->mem_usage_fd >= 0)
    close (s->mem_usage_fd);
  if (s->mem_max_fd >= 0)
    close (s->mem_max_fd);
  if (s->mem_oom_fd >= 0)
    close (s->mem_oom_fd);
  s->mem_usage_fd = s->mem_max_fd = s->mem_oom_fd = -1;
  s->mem_limit = 0;
}

static void
set_close (struct cg_set *s)
{
  for (int i = 0; i < CG_NCTRL; i++)
    {
      if (s->tasks_fd[i] >= 0)
        close (s->tasks_fd[i]);
      if (s->dirfd[i] >= 0)
        close (s->dirfd[i]);
    }
  if (s->usage_fd >= 0)
    close (s->usage_fd);
  if (s->pids_events_fd >= 0)
    close (s->pids_events_fd);
  if (s->pids_current_fd >= 0)
    close (s->pids_current_fd);
  set_close_memory (s);
}

/* Closes and removes a set; it must hold no task. */
static int
set_destroy (struct cg_host *h, struct cg_set *s)
{
  char name[32];
  int r = 0;

  snprintf (name, sizeof name, "p%u", s->id);
  for (int i = 0; i < h->ndirs; i++)
    if (s->dirfd[i] >= 0 && cg_rmdir_retry (h->dirfd[i], name) < 0)
      r = -1;
  set_close (s);
  free (s);
  return r;
}

/* Makes and opens the set's directory in hierarchy i. */
static int
set_make_dir (struct cg_host *h, struct cg_set *s, int i, sq_err *err)
{
  char name[32];

  snprintf (name, sizeof name, "p%u", s->id);
  if (mkdirat (h->dirfd[i], name, 0755) < 0)
    return sq_err_set (err, errno, "create cgroup '%s/%s'", h->path[i], name);
  s->dirfd[i] = openat (h->dirfd[i], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd[i] < 0
      || (s->tasks_fd[i] = openat (s->dirfd[i], "tasks", O_WRONLY | O_CLOEXEC)) < 0)
    return sq_err_set (err, errno, "open cgroup '%s/%s'", h->path[i], name);
  return 0;
}

/* The memory cgroup of a set (a fresh one), and the files its jobs read. */
static int
set_make_memory (struct cg_host *h, struct cg_set *s, sq_err *err)
{
  int i = h->ctrl_dir[CG_MEMORY];

  if (set_make_dir (h, s, i, err) < 0)
    return -1;
  s->mem_usage_fd = openat (s->dirfd[i], "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
  s->mem_max_fd = openat (s->dirfd[i], "memory.max_usage_in_bytes", O_RDWR | O_CLOEXEC);
  s->mem_oom_fd = openat (s->dirfd[i], "memory.oom_control", O_RDONLY | O_CLOEXEC);
  if (s->mem_usage_fd < 0 || s->mem_max_fd < 0 || s->mem_oom_fd < 0)
    return sq_err_set (err, errno, "open the memory counters of cgroup 'p%u'", s->id);
  return 0;
}

static int
memory_shares_dir (const struct cg_host *h)
{
  for (int c = 0; c < CG_NCTRL; c++)
    if (c != CG_MEMORY && h->ctrl_dir[c] == h->ctrl_dir[CG_MEMORY])
      return 1;
  return 0;
}

/* Replaces the set's memory cgroup with a fresh one: what is still
 * charged to the old one stays with it (the kernel frees it as the pages
 * go). The rmdir fails only while a task is in it. */
static int
set_renew_memory (struct cg_host *h, struct cg_set *s)
{
  int i = h->ctrl_dir[CG_MEMORY];
  char name[32];

  snprintf (name, sizeof name, "p%u", s->id);
  set_close_memory (s);
  close (s->tasks_fd[i]);
  close (s->dirfd[i]);
  s->tasks_fd[i] = s->dirfd[i] = -1;
  if (cg_rmdir_retry (h->dirfd[i], name) < 0)
    return -1;
  return set_make_memory (h, s, NULL);
}

static struct cg_set *
set_make (struct cg_host *h, sq_err *err)
{
  struct cg_set *s = calloc (1, sizeof *s);
  char name[32];

  if (!s)
    {
      sq_err_set (err, ENOMEM, "allocate a cgroup set");
      return NULL;
    }
  for (int i = 0; i < CG_NCTRL; i++)
    s->dirfd[i] = s->tasks_fd[i] = -1;
  s->usage_fd = s->pids_events_fd = s->pids_current_fd = -1;
  s->mem_usage_fd = s->mem_max_fd = s->mem_oom_fd = -1;
  pthread_mutex_lock (&h->pool_lock);
  s->id = h->pool_next_id++;
  pthread_mutex_unlock (&h->pool_lock);
  snprintf (name, sizeof name, "p%u", s->id);
  for (int i = 0; i < h->ndirs; i++)
    if (i != h->ctrl_dir[CG_MEMORY] && set_make_dir (h, s, i, err) < 0)
      goto fail;
  if (set_make_memory (h, s, err) < 0)
    goto fail;
  {
    int acct = s->dirfd[h->ctrl_dir[CG_CPUACCT]], pids = s->dirfd[h->ctrl_dir[CG_PIDS]];
    s->usage_fd = openat (acct, "cpuacct.usage", O_RDONLY | O_CLOEXEC);
    s->pids_events_fd = openat (pids, "pids.events", O_RDONLY | O_CLOEXEC);
    s->pids_current_fd = openat (pids, "pids.current", O_RDONLY | O_CLOEXEC);
    if (s->usage_fd < 0 || s->pids_events_fd < 0 || s->pids_current_fd < 0)
      {
        sq_err_set (err, errno, "open the counters of cgroup '%s'", name);
        goto fail;
      }
  }
  return s;

fail:
  set_destroy (h, s);
  return NULL;
}

static struct cg_set *
set_take (struct cg_host *h, sq_err *err)
{
  struct cg_set *s;

  pthread_mutex_lock (&h->pool_lock);
  s = h->pool;
  if (s)
    {
      h->pool = s->next;
      h->pool_idle--;
      s->next = NULL;
    }
  pthread_mutex_unlock (&h->pool_lock);
  return s ? s : set_make (h, err);
}

/* Returns a set to the pool once it holds no task. Every process of a job
 * lives in its PID namespace, gone with its init, so it is normally empty
 * already; otherwise its tasks are killed first. -1 if some survive 5 s
 * (the set is then dropped, not reused). */
static int
set_give (struct cg_host *h, struct cg_set *s)
{
  uint64_t n = 1;

  if (sq_pread_u64 (s->pids_current_fd, "pids.current", &n, NULL) < 0 || n > 0)
    for (int i = 0; i < h->ndirs; i++)
      if (s->dirfd[i] >= 0 && cg_kill_and_drain (s->dirfd[i]) < 0)
        {
          set_destroy (h, s);
          return -1;
        }
  /* Too much still charged to its memory cgroup: a fresh one (or, where
   * memory shares its hierarchy with another controller, a fresh set). */
  if ((sq_pread_u64 (s->mem_usage_fd, "memory.usage_in_bytes", &n, NULL) < 0
       || n > CG_REUSE_MAX_LEFTOVER)
      && (memory_shares_dir (h) || set_renew_memory (h, s) < 0))
    {
      set_destroy (h, s);
      return 0;
    }
  pthread_mutex_lock (&h->pool_lock);
  if (h->pool_idle < CG_POOL_MAX_IDLE)
    {
      s->next = h->pool;
      h->pool = s;
      h->pool_idle++;
      s = NULL;
    }
  pthread_mutex_unlock (&h->pool_lock);
  if (s)
    set_destroy (h, s);
  return 0;
}

static int
v1_set_limits (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
               sq_err *err)
{
  char v[64];
  int mem = j->dirfd[h->ctrl_dir[CG_MEMORY]];
  int pids = j->dirfd[h->ctrl_dir[CG_PIDS]];
  int cpu = j->dirfd[h->ctrl_dir[CG_CPU]];
  /* A pooled set's knobs keep what an earlier job had: they are written
   * when this job's differ (a reused cpu cgroup may need its cap lifted). */
  struct cg_set *set = j->set;

  snprintf (v, sizeof v, "%" PRIu64, lim->memory_bytes);
  if (!set || set->mem_limit != lim->memory_bytes)
    {
      /* memsw may never be below the plain limit: when a limit is lowered
       * the plain one goes first, when it is raised (the first write then
       * fails) memsw goes first and the plain one after it. */
      int plain_done
          = h->has_memsw && sq_write_file_at (mem, "memory.limit_in_bytes", v, NULL) == 0;
      if (h->has_memsw
          && cg_write_knob (mem, "memory.memsw.limit_in_bytes", v, j->name, err) < 0)
        return -1;
      if (!plain_done
          && cg_write_knob (mem, "memory.limit_in_bytes", v, j->name, err) < 0)
        return -1;
      if (set)
        set->mem_limit = lim->memory_bytes;
    }
  if (!set || set->pids_max != lim->pids)
    {
      snprintf (v, sizeof v, "%" PRIu64, lim->pids);
      if (cg_write_knob (pids, "pids.max", v, j->name, err) < 0)
        return -1;
      if (set)
        set->pids_max = lim->pids;
    }
  int64_t quota
      = lim->cpu_millicores ? (int64_t) lim->cpu_millicores * 100 : -1; /* of 100 ms */
  if (set ? set->cpu_quota_us != quota : quota > 0)
    {
      snprintf (v, sizeof v, "%" PRId64, quota);
      if (cg_write_knob (cpu, "cpu.cfs_quota_us", v, j->name, err) < 0)
        return -1;
      if (set)
        set->cpu_quota_us = quota;
    }
  return 0;
}

int
cg_v1_job_take (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                sq_err *err)
{
  /* Every directory, and its entry file, belongs to the set. */
  struct cg_set *s = set_take (h, err);
  if (!s)
    return -1;
  j->set = s;
  for (int i = 0; i < h->ndirs; i++)
    {
      j->dirfd[i] = s->dirfd[i];
      j->entry_fd[i] = s->tasks_fd[i];
    }
  j->ndirs = j->nentry = h->ndirs;
  /* oom_kill is missing before Linux 4.13: then 0, as for a fresh
   * cgroup. The peak restarts from what is charged now. */
  cg_pread_keyed (s->mem_oom_fd, "oom_kill", &j->oom_kills_base);
  if (sq_pread_u64 (s->usage_fd, "cpuacct.usage", &j->cpu_ns_base, NULL) < 0
      || cg_pread_keyed (s->pids_events_fd, "max", &j->pids_events_base) < 0
      || pwrite (s->mem_max_fd, "0", 1, 0) != 1)
    return sq_err_set (err, errno, "read the counters of cgroup 'p%u' for job %s", s->id,
                       j->name);
  return v1_set_limits (h, j, lim, err);
}

int
cg_v1_job_give (struct cg_host *h, struct cg_job *j, sq_err *err)
{
  /* The set's directories go back with it; set_give makes sure they are
   * empty. */
  unsigned id = j->set->id;
  int r = 0;

  if (set_give (h, j->set) < 0)
    r = sq_err_set (err, 0, "cgroup 'p%u' of job %s still has processes after 5 s", id,
                    j->name);
  j->set = NULL;
  for (int i = 0; i < j->ndirs; i++)
    j->dirfd[i] = -1;
  j->ndirs = 0;
  return r;
}

static int
v1_cpu_ns (struct cg_host *h, struct cg_job *j, uint64_t *ns)
{
  if (j->set)
    {
      if (sq_pread_u64 (j->set->usage_fd, "cpuacct.usage", ns, NULL) < 0)
        return -1;
      *ns = *ns > j->cpu_ns_base ? *ns - j->cpu_ns_base : 0;
      return 0;
    }
  return sq_read_u64_at (j->dirfd[h->ctrl_dir[CG_CPUACCT]], "cpuacct.usage", ns, NULL);
}

static void
v1_stats (struct cg_host *h, struct cg_job *j, struct cg_stats *st)
{
  int mem = j->dirfd[h->ctrl_dir[CG_MEMORY]];
  int pids = j->dirfd[h->ctrl_dir[CG_PIDS]];

  if (j->set)
    {
      uint64_t n = 0;
      cg_pread_keyed (j->set->pids_events_fd, "max", &n);
      st->pids_max_events = n > j->pids_events_base ? n - j->pids_events_base : 0;
      n = 0;
      sq_pread_u64 (j->set->mem_max_fd, "memory.max_usage_in_bytes",
                    &st->memory_peak_bytes, NULL);
      cg_pread_keyed (j->set->mem_oom_fd, "oom_kill", &n);
      st->oom_kills = n > j->oom_kills_base ? n - j->oom_kills_base : 0;
      return;
    }
  cg_read_keyed (pids, "pids.events", "max", &st->pids_max_events);
  sq_read_u64_at (mem, "memory.max_usage_in_bytes", &st->memory_peak_bytes, NULL);
  cg_read_keyed (mem, "memory.oom_control", "oom_kill", &st->oom_kills);
}

static void
v1_describe (const struct cg_host *h, char *buf, size_t len)
{
  size_t n
      = snprintf (buf, len, "cgroup v1%s:", h->hybrid ? " (hybrid: limits on v1)" : "");

  for (int c = 0; c < CG_NCTRL && n < len; c++)
    n += snprintf (buf + n, len - n, " %s=%s", cg_ctrl_names[c], h->path[h->ctrl_dir[c]]);
}

static void
v1_fini (struct cg_host *h)
{
  while (h->pool)
    {
      struct cg_set *s = h->pool;
      h->pool = s->next;
      set_destroy (h, s);
    }
  h->pool_idle = 0;
}

const struct cg_ops cg_v1_ops = {
  .init = v1_init,
  .fini = v1_fini,
  .describe = v1_describe,
  .set_limits = v1_set_limits,
  .cpu_ns = v1_cpu_ns,
  .stats = v1_stats,
};
