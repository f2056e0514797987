/* Cgroups for sandboxes, the v2 (unified) half: a delegated subtree, one
 * leaf per job with memory.max, memory.swap.max = 0, pids.max and
 * cpu.max, counters from memory.peak, memory.events, pids.events and
 * cpu.stat. See cgroup.h for the layout. */
#define _GNU_SOURCE
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/util.h"
#include "helpers.h"

static int
has_controller (int dirfd, const char *file, const char *ctrl)
{
  cleanup_free char *s = sq_read_file_at (dirfd, file, 4096, NULL, NULL);
  char *save = NULL;

  if (!s)
    return 0;
  for (char *t = strtok_r (s, " \n", &save); t; t = strtok_r (NULL, " \n", &save))
    if (strcmp (t, ctrl) == 0)
      return 1;
  return 0;
}

/* How long enable_controllers waits out a cgroup that still holds a task:
 * this process's own thread that was exiting as the process moved (the
 * kernel moves no exiting task) leaves it within milliseconds. */
#define ENABLE_BUSY_WAIT_MS 1000

static int
enable_controllers (int dirfd, const char *shown, sq_err *err)
{
  static const char *const want[] = { "memory", "pids", "cpu" };

  for (size_t i = 0; i < SQ_ARRAY_SIZE (want); i++)
    {
      char buf[32];
      sq_err lerr = { 0 };
      if (has_controller (dirfd, "cgroup.subtree_control", want[i]))
        continue;
      snprintf (buf, sizeof buf, "+%s", want[i]);
      for (int ms = 0; sq_write_file_at (dirfd, "cgroup.subtree_control", buf, &lerr) < 0;
           ms++)
        {
          struct timespec ts = { 0, 1000000 };
          if (lerr.code == EBUSY && ms < ENABLE_BUSY_WAIT_MS)
            {
              nanosleep (&ts, NULL);
              continue;
            }
          if (err)
            *err = lerr;
          sq_err_wrap (err, "enable the %s controller in '%s'", want[i], shown);
          if (lerr.code == EBUSY)
            sq_err_wrap (err, "the cgroup has other processes in it; start the "
                              "worker in a cgroup of its own with Delegate=yes");
          return -1;
        }
    }
  return 0;
}

/* Whether this process must ask systemd for a cgroup of its own before it
 * may make any: on a host run by systemd, only a delegated cgroup is the
 * process's to change (systemd marks one with the trusted.delegate xattr;
 * user.delegate under a user manager), and never the root. On a host
 * without systemd (a container given its own cgroup namespace) the
 * process's cgroup is taken as its own. */
static int
v2_needs_scope (const char *own, const char *base)
{
  char v[8];

  if (access ("/run/systemd/system", F_OK) != 0)
    return 0;
  if (strcmp (own, "/") == 0)
    return 1;
  return getxattr (base, "trusted.delegate", v, sizeof v) <= 0
         && getxattr (base, "user.delegate", v, sizeof v) <= 0;
}

/* Moves this process into a new transient scope with Delegate=yes
 * (sandbox/scope.c). */
static int
enter_scope (const struct cg_host *h, sq_err *err)
{
  char helper[PATH_MAX], pid[32], name[96];
  char *argv[] = { helper, pid, name, NULL };
  extern char **environ;
  pid_t child;
  int st, r;

  sbx_helper_path ("sandq-scope", helper, sizeof helper);
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  snprintf (name, sizeof name, "sandq-%s", h->instance);
  r = posix_spawn (&child, helper, NULL, NULL, argv, environ);
  if (r != 0)
    return sq_err_set (err, r,
                       "cgroup v2: this process has no delegated cgroup and the "
                       "helper that asks systemd for one could not be started ('%s')",
                       helper);
  while (waitpid (child, &st, 0) < 0)
    if (errno != EINTR)
      return sq_err_set (err, errno, "wait for '%s'", helper);
  if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
    return sq_err_set (err, 0,
                       "cgroup v2: this process has no delegated cgroup and systemd "
                       "gave it no scope (the helper's message is above); run it as "
                       "a service with Delegate=yes or under 'systemd-run --scope "
                       "-p Delegate=yes'");
  return 0;
}

static int
v2_init (struct cg_host *h, sq_err *err)
{
  char own[512], base[1024], sub[1100], inst[1200];
  cleanup_close int bfd = -1, sfd = -1, ifd = -1;
  char pid[32];

  if (cg_own_path (NULL, own, sizeof own, err) < 0)
    return -1;
  snprintf (base, sizeof base, CG_MOUNT "%s", strcmp (own, "/") ? own : "");
  if (v2_needs_scope (own, base))
    {
      if (enter_scope (h, err) < 0 || cg_own_path (NULL, own, sizeof own, err) < 0)
        return -1;
      snprintf (base, sizeof base, CG_MOUNT "%s", own);
      h->scoped = 1;
    }
  bfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", base);
  for (int c = CG_MEMORY; c <= CG_CPU; c++)
    if (!has_controller (bfd, "cgroup.controllers", cg_ctrl_names[c]))
      return sq_err_set (err, 0,
                         "cgroup v2: the %s controller is not available in '%s'; "
                         "run the worker as a systemd service with Delegate=yes",
                         cg_ctrl_names[c], base);
  snprintf (sub, sizeof sub, "%s/" CG_SUBTREE, base);
  if (cg_mkdir_at (bfd, CG_SUBTREE, err, base) < 0)
    return -1;
  sfd = openat (bfd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", sub);
  snprintf (inst, sizeof inst, "%s/%s", sub, h->instance);
  if (cg_mkdir_at (sfd, h->instance, err, sub) < 0)
    return -1;
  ifd = openat (sfd, h->instance, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ifd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", inst);
  if (cg_mkdir_at (ifd, "supervisor", err, inst) < 0)
    return -1;
  /* v2 allows no processes in a cgroup that hands controllers to its
   * children, so this process moves to a leaf of its own first. */
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  {
    cleanup_close int supfd
        = openat (ifd, "supervisor", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (supfd < 0 || sq_write_file_at (supfd, "cgroup.procs", pid, err) < 0)
      return sq_err_wrap (err, "move the worker into '%s/supervisor'", inst);
  }
  if (enable_controllers (bfd, base, err) < 0 || enable_controllers (sfd, sub, err) < 0
      || enable_controllers (ifd, inst, err) < 0)
    return -1;
  h->dirfd[0] = steal_fd (&ifd);
  snprintf (h->path[0], sizeof h->path[0], "%s", inst);
  h->ndirs = 1;
  for (int c = 0; c < CG_NCTRL; c++)
    h->ctrl_dir[c] = 0;
  return 0;
}

static int
v2_set_limits (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
               sq_err *err)
{
  char v[64];
  int dfd = j->dirfd[0];

  (void) h;
  snprintf (v, sizeof v, "%" PRIu64, lim->memory_bytes);
  if (cg_write_knob (dfd, "memory.max", v, j->name, err) < 0)
    return -1;
  /* No swap: a job that needs more than its cap is stopped, not slowed. */
  if (faccessat (dfd, "memory.swap.max", W_OK, 0) == 0
      && cg_write_knob (dfd, "memory.swap.max", "0", j->name, err) < 0)
    return -1;
  snprintf (v, sizeof v, "%" PRIu64, lim->pids);
  if (cg_write_knob (dfd, "pids.max", v, j->name, err) < 0)
    return -1;
  if (lim->cpu_millicores)
    {
      /* Of each 100 ms period. */
      snprintf (v, sizeof v, "%" PRIu64 " 100000", (uint64_t) lim->cpu_millicores * 100);
      if (cg_write_knob (dfd, "cpu.max", v, j->name, err) < 0)
        return -1;
    }
  return 0;
}

static int
v2_cpu_ns (struct cg_host *h, struct cg_job *j, uint64_t *ns)
{
  uint64_t us;

  (void) h;
  if (cg_read_keyed (j->dirfd[0], "cpu.stat", "usage_usec", &us) < 0)
    return -1;
  *ns = us * 1000;
  return 0;
}

static void
v2_stats (struct cg_host *h, struct cg_job *j, struct cg_stats *st)
{
  int dfd = j->dirfd[0];

  (void) h;
  cg_read_keyed (dfd, "pids.events", "max", &st->pids_max_events);
  /* memory.peak is there from Linux 5.19. */
  if (sq_read_u64_at (dfd, "memory.peak", &st->memory_peak_bytes, NULL) < 0)
    sq_read_u64_at (dfd, "memory.current", &st->memory_peak_bytes, NULL);
  cg_read_keyed (dfd, "memory.events", "oom_kill", &st->oom_kills);
}

static void
v2_describe (const struct cg_host *h, char *buf, size_t len)
{
  snprintf (buf, len, "cgroup v2 at %s%s", h->path[0],
            h->scoped ? " (in a transient systemd scope)" : "");
}

static void
v2_fini (struct cg_host *h)
{
  if (h->ndirs > 0 && h->dirfd[0] >= 0)
    unlinkat (h->dirfd[0], "supervisor", AT_REMOVEDIR);
}

const struct cg_ops cg_v2_ops = {
  .init = v2_init,
  .fini = v2_fini,
  .describe = v2_describe,
  .set_limits = v2_set_limits,
  .cpu_ns = v2_cpu_ns,
  .stats = v2_stats,
};
