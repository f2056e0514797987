#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"
#include "paths.h" /* SANDQ_LIBEXECDIR, made by the Makefile */

#define CG_MOUNT "/sys/fs/cgroup"
#define CG_SUBTREE "sandq"

static int set_destroy (struct cg_host *h, struct cg_set *s);

static const char *const ctrl_names[CG_NCTRL] = {
  [CG_MEMORY] = "memory",
  [CG_PIDS] = "pids",
  [CG_CPU] = "cpu",
  [CG_CPUACCT] = "cpuacct",
};

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static int
proc_starttime (pid_t pid, unsigned long long *out)
{
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  p = strrchr (buf, ')');
  if (!p)
    return -1;
  /* After ") " comes field 3; skip to field 22. */
  for (int field = 2; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  if (!p)
    return -1;
  *out = strtoull (p + 1, NULL, 10);
  return 0;
}

int
cg_parse_proc_cgroup (char *data, const char *ctrl, char *out, size_t len)
{
  char *save = NULL;

  for (char *line = strtok_r (data, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save))
    {
      /* "ID:CONTROLLERS:PATH"; the v2 line is "0::PATH". */
      char *c1 = strchr (line, ':'), *c2;
      if (!c1 || !(c2 = strchr (c1 + 1, ':')))
        continue;
      *c1 = *c2 = '\0';
      if (!ctrl)
        {
          if (strcmp (line, "0") == 0 && c1 + 1 == c2)
            {
              snprintf (out, len, "%s", c2 + 1);
              return 0;
            }
          continue;
        }
      char *csave = NULL;
      for (char *c = strtok_r (c1 + 1, ",", &csave); c; c = strtok_r (NULL, ",", &csave))
        if (strcmp (c, ctrl) == 0)
          {
            snprintf (out, len, "%s", c2 + 1);
            return 0;
          }
    }
  return -1;
}

/* Finds the path of this process's cgroup for a v1 controller, or for the
 * v2 hierarchy when ctrl is NULL. */
static int
own_cgroup_path (const char *ctrl, char *out, size_t len, sq_err *err)
{
  cleanup_free char *data
      = sq_read_file_at (AT_FDCWD, "/proc/self/cgroup", 1 << 16, NULL, err);

  if (!data)
    return -1;
  if (cg_parse_proc_cgroup (data, ctrl, out, len) == 0)
    return 0;
  return sq_err_set (err, 0, "no %s cgroup listed in /proc/self/cgroup",
                     ctrl ? ctrl : "cgroup2");
}

static int
mkdir_p_at (int dirfd, const char *name, sq_err *err, const char *shown)
{
  if (mkdirat (dirfd, name, 0755) < 0 && errno != EEXIST)
    return sq_err_set (err, errno, "create cgroup '%s/%s'", shown, name);
  return 0;
}

/* Kills everything in the cgroup at dirfd and waits (bounded) until it is
 * empty. Only processes inside sandq's own subtree can be listed here. */
static int
kill_and_drain (int dirfd)
{
  uint64_t deadline = sq_now_ms () + 5000;
  int killfile = faccessat (dirfd, "cgroup.kill", W_OK, 0) == 0;

  for (unsigned round = 0;; round++)
    {
      cleanup_free char *procs
          = sq_read_file_at (dirfd, "cgroup.procs", 1 << 20, NULL, NULL);
      if (!procs || procs[0] == '\0')
        return 0;
      if (killfile)
        sq_write_file_at (dirfd, "cgroup.kill", "1", NULL);
      else
        for (char *p = procs; *p;)
          {
            char *end;
            long pid = strtol (p, &end, 10);
            if (end == p)
              break;
            if (pid > 1)
              kill ((pid_t) pid, SIGKILL);
            p = end + (*end == '\n');
          }
      if (sq_now_ms () > deadline)
        return -1;
      struct timespec ts = { 0, round < 10 ? 200000 : 2000000 };
      nanosleep (&ts, NULL);
    }
}

/* rmdir of a just-emptied cgroup can briefly fail with EBUSY while the
 * last tasks finish exiting. */
static int
rmdir_retry (int parentfd, const char *name)
{
  for (int i = 0; i < 500; i++)
    {
      if (unlinkat (parentfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY)
        return -1;
      struct timespec ts = { 0, 1000000 };
      nanosleep (&ts, NULL);
    }
  return -1;
}

/* Removes every job cgroup below an instance directory, then the instance. */
static int
sweep_instance (int subtreefd, const char *inst)
{
  cleanup_close int ifd = openat (subtreefd, inst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *e;
  int n = 0;

  if (ifd < 0)
    return 0;
  d = fdopendir (dup (ifd));
  if (!d)
    return 0;
  while ((e = readdir (d)))
    {
      cleanup_close int jfd = -1;
      if (e->d_type != DT_DIR || e->d_name[0] == '.')
        continue;
      jfd = openat (ifd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (jfd < 0)
        continue;
      kill_and_drain (jfd);
      if (rmdir_retry (ifd, e->d_name) == 0 && strcmp (e->d_name, "supervisor"))
        n++;
    }
  closedir (d);
  /* A one-shot instance is itself the job's cgroup. */
  kill_and_drain (ifd);
  rmdir_retry (subtreefd, inst);
  return n;
}

static int
instance_alive (const char *name)
{
  unsigned long long start, cur;
  char *end;
  long pid = strtol (name, &end, 10);

  if (end == name || *end != '-')
    return 1; /* not ours to judge: leave it */
  start = strtoull (end + 1, NULL, 10);
  if (proc_starttime ((pid_t) pid, &cur) < 0)
    return 0;
  return cur == start;
}

int
cg_sweep (struct cg_host *h)
{
  int removed = 0;

  for (int i = 0; i < h->ndirs; i++)
    {
      /* The subtree directory is the parent of our instance directory. */
      cleanup_close int sfd = openat (h->dirfd[i], h->one_shot ? "." : "..",
                                      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      DIR *d;
      struct dirent *e;

      if (sfd < 0)
        continue;
      d = fdopendir (dup (sfd));
      if (!d)
        continue;
      while ((e = readdir (d)))
        {
          if (e->d_type != DT_DIR || e->d_name[0] == '.'
              || strcmp (e->d_name, h->instance) == 0 || instance_alive (e->d_name))
            continue;
          int n = sweep_instance (sfd, e->d_name);
          if (n > 0)
            sq_warn ("cgroup: swept %d stale job cgroup(s) of dead instance %s", n,
                     e->d_name);
          removed += n;
        }
      closedir (d);
    }
  return removed;
}

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

static int
enable_controllers (int dirfd, const char *shown, sq_err *err)
{
  static const char *const want[] = { "memory", "pids", "cpu" };

  for (size_t i = 0; i < SQ_ARRAY_SIZE (want); i++)
    {
      char buf[32];
      if (has_controller (dirfd, "cgroup.subtree_control", want[i]))
        continue;
      snprintf (buf, sizeof buf, "+%s", want[i]);
      if (sq_write_file_at (dirfd, "cgroup.subtree_control", buf, err) < 0)
        {
          sq_err_wrap (err, "enable the %s controller in '%s'", want[i], shown);
          if (err && err->code == EBUSY)
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

/* The scope helper: beside this program, else where make install puts it. */
static void
scope_helper_path (char *out, size_t len)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        {
          snprintf (out, len, "%.*s/sandq-scope", (int) (slash - self), self);
          if (access (out, X_OK) == 0)
            return;
        }
    }
  snprintf (out, len, "%s/sandq-scope", SANDQ_LIBEXECDIR);
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

  scope_helper_path (helper, sizeof helper);
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
init_v2 (struct cg_host *h, sq_err *err)
{
  char own[512], base[1024], sub[1100], inst[1200];
  cleanup_close int bfd = -1, sfd = -1, ifd = -1;
  char pid[32];

  if (own_cgroup_path (NULL, own, sizeof own, err) < 0)
    return -1;
  snprintf (base, sizeof base, CG_MOUNT "%s", strcmp (own, "/") ? own : "");
  if (v2_needs_scope (own, base))
    {
      if (enter_scope (h, err) < 0 || own_cgroup_path (NULL, own, sizeof own, err) < 0)
        return -1;
      snprintf (base, sizeof base, CG_MOUNT "%s", own);
      h->scoped = 1;
    }
  bfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", base);
  for (int c = CG_MEMORY; c <= CG_CPU; c++)
    if (!has_controller (bfd, "cgroup.controllers", ctrl_names[c]))
      return sq_err_set (err, 0,
                         "cgroup v2: the %s controller is not available in '%s'; "
                         "run the worker as a systemd service with Delegate=yes",
                         ctrl_names[c], base);
  snprintf (sub, sizeof sub, "%s/" CG_SUBTREE, base);
  if (mkdir_p_at (bfd, CG_SUBTREE, err, base) < 0)
    return -1;
  sfd = openat (bfd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", sub);
  snprintf (inst, sizeof inst, "%s/%s", sub, h->instance);
  if (mkdir_p_at (sfd, h->instance, err, sub) < 0)
    return -1;
  ifd = openat (sfd, h->instance, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ifd < 0)
    return sq_err_set (err, errno, "open cgroup '%s'", inst);
  if (mkdir_p_at (ifd, "supervisor", err, inst) < 0)
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
init_v1 (struct cg_host *h, sq_err *err)
{
  struct stat seen[CG_NCTRL];

  h->ndirs = 0;
  for (int c = 0; c < CG_NCTRL; c++)
    {
      char mnt[256], own[512], base[1024], inst[1200];
      cleanup_close int bfd = -1, sfd = -1;
      struct stat st;
      int dup_of = -1;

      snprintf (mnt, sizeof mnt, CG_MOUNT "/%s", ctrl_names[c]);
      if (stat (mnt, &st) < 0)
        return sq_err_set (err, errno,
                           "cgroup v1: the %s controller is not mounted at '%s'",
                           ctrl_names[c], mnt);
      for (int i = 0; i < h->ndirs; i++)
        if (seen[i].st_dev == st.st_dev)
          dup_of = i;
      if (dup_of >= 0)
        {
          /* cpu and cpuacct are often mounted together. */
          h->ctrl_dir[c] = dup_of;
          continue;
        }
      if (own_cgroup_path (ctrl_names[c], own, sizeof own, err) < 0)
        return -1;
      snprintf (base, sizeof base, "%s%s", mnt, strcmp (own, "/") ? own : "");
      bfd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (bfd < 0)
        return sq_err_set (err, errno, "open cgroup '%s'", base);
      if (mkdir_p_at (bfd, CG_SUBTREE, err, base) < 0)
        return -1;
      sfd = openat (bfd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sfd < 0)
        return sq_err_set (err, errno, "open cgroup '%s/" CG_SUBTREE "'", base);
      if (h->one_shot)
        {
          snprintf (inst, sizeof inst, "%s/" CG_SUBTREE, base);
          h->dirfd[h->ndirs] = steal_fd (&sfd);
          goto opened;
        }
      if (mkdir_p_at (sfd, h->instance, err, base) < 0)
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
  h->has_memsw = faccessat (h->dirfd[h->ctrl_dir[CG_MEMORY]],
                            "memory.memsw.limit_in_bytes", W_OK, 0)
                 == 0;
  return 0;
}

int
cg_host_init (struct cg_host *h, int one_shot, sq_err *err)
{
  struct statfs sfs;
  unsigned long long start = 0;
  int r;

  memset (h, 0, sizeof *h);
  pthread_mutex_init (&h->pool_lock, NULL);
  for (int i = 0; i < CG_NCTRL; i++)
    h->dirfd[i] = -1;
  if (proc_starttime (getpid (), &start) < 0)
    return sq_err_set (err, errno, "read /proc/self/stat");
  snprintf (h->instance, sizeof h->instance, "%d-%llu", (int) getpid (), start);
  if (statfs (CG_MOUNT, &sfs) < 0)
    return sq_err_set (err, errno, "statfs '" CG_MOUNT "'");
  if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    {
      h->mode = CG_MODE_V2;
      r = init_v2 (h, err);
    }
  else
    {
      struct statfs u;
      h->mode = CG_MODE_V1;
      h->one_shot = one_shot;
      h->hybrid
          = statfs (CG_MOUNT "/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC;
      r = init_v1 (h, err);
      h->pooled = !one_shot;
    }
  if (r < 0)
    {
      cg_host_fini (h);
      return -1;
    }
  cg_sweep (h);
  return 0;
}

void
cg_host_describe (const struct cg_host *h, char *buf, size_t len)
{
  size_t n;

  if (h->mode == CG_MODE_V2)
    {
      snprintf (buf, len, "cgroup v2 at %s%s", h->path[0],
                h->scoped ? " (in a transient systemd scope)" : "");
      return;
    }
  n = snprintf (buf, len, "cgroup v1%s:", h->hybrid ? " (hybrid: limits on v1)" : "");
  for (int c = 0; c < CG_NCTRL && n < len; c++)
    n += snprintf (buf + n, len - n, " %s=%s", ctrl_names[c], h->path[h->ctrl_dir[c]]);
}

void
cg_host_fini (struct cg_host *h)
{
  while (h->pool)
    {
      struct cg_set *s = h->pool;
      h->pool = s->next;
      set_destroy (h, s);
    }
  h->pool_idle = 0;
  for (int i = 0; i < h->ndirs; i++)
    {
      if (h->dirfd[i] < 0)
        continue;
      if (h->one_shot)
        {
          close (h->dirfd[i]);
          h->dirfd[i] = -1;
          continue;
        }
      if (h->mode == CG_MODE_V2)
        unlinkat (h->dirfd[i], "supervisor", AT_REMOVEDIR);
      /* Removing our own instance directory; fails harmlessly if the v2
       * supervisor leaf still holds this process. */
      cleanup_close int sfd
          = openat (h->dirfd[i], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      close (h->dirfd[i]);
      h->dirfd[i] = -1;
      if (sfd >= 0)
        unlinkat (sfd, h->instance, AT_REMOVEDIR);
    }
  h->ndirs = 0;
}

/* Finds "key value" in the text of a flat-keyed cgroup file. */
static int
parse_keyed (char *buf, const char *key, uint64_t *out)
{
  size_t klen = strlen (key);

  for (char *p = buf; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp (p, key, klen) == 0 && p[klen] == ' ')
      {
        *out = strtoull (p + klen + 1, NULL, 10);
        return 0;
      }
  return -1;
}

/* Reads "key value" from a flat-keyed cgroup file open at fd, from its
 * start (a pooled set keeps its counters open). */
static int
pread_keyed (int fd, const char *key, uint64_t *out)
{
  char buf[4096];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return parse_keyed (buf, key, out);
}

static int
read_keyed (int dirfd, const char *file, const char *key, uint64_t *out)
{
  cleanup_close int fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC);

  return fd < 0 ? -1 : pread_keyed (fd, key, out);
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
    if (s->dirfd[i] >= 0 && rmdir_retry (h->dirfd[i], name) < 0)
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
  if (rmdir_retry (h->dirfd[i], name) < 0)
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
      if (s->dirfd[i] >= 0 && kill_and_drain (s->dirfd[i]) < 0)
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
write_knob (int dirfd, const char *file, const char *value, const char *job, sq_err *err)
{
  if (sq_write_file_at (dirfd, file, value, err) < 0)
    return sq_err_wrap (err, "cgroup of job %s", job);
  return 0;
}

int
cg_job_set_limits (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                   sq_err *err)
{
  char v[64];
  int mem = j->dirfd[h->ctrl_dir[CG_MEMORY]];
  int pids = j->dirfd[h->ctrl_dir[CG_PIDS]];
  int cpu = j->dirfd[h->ctrl_dir[CG_CPU]];

  snprintf (v, sizeof v, "%" PRIu64, lim->memory_bytes);
  if (h->mode == CG_MODE_V2)
    {
      if (write_knob (mem, "memory.max", v, j->name, err) < 0)
        return -1;
      /* No swap: a job that needs more than its cap is stopped, not slowed. */
      if (faccessat (mem, "memory.swap.max", W_OK, 0) == 0
          && write_knob (mem, "memory.swap.max", "0", j->name, err) < 0)
        return -1;
    }
  else if (!j->set || j->set->mem_limit != lim->memory_bytes)
    {
      /* memsw may never be below the plain limit: when a limit is lowered
       * the plain one goes first, when it is raised (the first write then
       * fails) memsw goes first and the plain one after it. */
      int plain_done
          = h->has_memsw && sq_write_file_at (mem, "memory.limit_in_bytes", v, NULL) == 0;
      if (h->has_memsw
          && write_knob (mem, "memory.memsw.limit_in_bytes", v, j->name, err) < 0)
        return -1;
      if (!plain_done && write_knob (mem, "memory.limit_in_bytes", v, j->name, err) < 0)
        return -1;
      if (j->set)
        j->set->mem_limit = lim->memory_bytes;
    }
  /* A pooled set's knobs keep what an earlier job had: they are written
   * when this job's differ (a reused cpu cgroup may need its cap lifted). */
  struct cg_set *set = j->set;
  if (!set || set->pids_max != lim->pids)
    {
      snprintf (v, sizeof v, "%" PRIu64, lim->pids);
      if (write_knob (pids, "pids.max", v, j->name, err) < 0)
        return -1;
      if (set)
        set->pids_max = lim->pids;
    }
  int64_t quota
      = lim->cpu_millicores ? (int64_t) lim->cpu_millicores * 100 : -1; /* of 100 ms */
  if (set ? set->cpu_quota_us != quota : quota > 0)
    {
      if (h->mode == CG_MODE_V2)
        {
          snprintf (v, sizeof v, "%" PRId64 " 100000", quota);
          if (write_knob (cpu, "cpu.max", v, j->name, err) < 0)
            return -1;
        }
      else
        {
          snprintf (v, sizeof v, "%" PRId64, quota);
          if (write_knob (cpu, "cpu.cfs_quota_us", v, j->name, err) < 0)
            return -1;
        }
      if (set)
        set->cpu_quota_us = quota;
    }
  return 0;
}

int
cg_job_create (struct cg_host *h, struct cg_job *j, const char *name,
               const struct cg_limits *lim, sq_err *err)
{
  memset (j, 0, sizeof *j);
  for (int i = 0; i < CG_NCTRL; i++)
    j->entry_fd[i] = -1;
  snprintf (j->name, sizeof j->name, "%s", h->one_shot ? h->instance : name);
  if (h->pooled)
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
      pread_keyed (s->mem_oom_fd, "oom_kill", &j->oom_kills_base);
      if (sq_pread_u64 (s->usage_fd, "cpuacct.usage", &j->cpu_ns_base, NULL) < 0
          || pread_keyed (s->pids_events_fd, "max", &j->pids_events_base) < 0
          || pwrite (s->mem_max_fd, "0", 1, 0) != 1)
        {
          sq_err_set (err, errno, "read the counters of cgroup 'p%u' for job %s", s->id,
                      j->name);
          goto fail;
        }
      if (cg_job_set_limits (h, j, lim, err) < 0)
        goto fail;
      return 0;
    }
  for (int i = 0; i < h->ndirs; i++)
    {
      if (mkdirat (h->dirfd[i], j->name, 0755) < 0)
        {
          sq_err_set (err, errno, "create cgroup '%s/%s'", h->path[i], j->name);
          goto fail;
        }
      j->dirfd[i] = openat (h->dirfd[i], j->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      j->ndirs = i + 1;
      if (j->dirfd[i] < 0)
        {
          sq_err_set (err, errno, "open cgroup '%s/%s'", h->path[i], j->name);
          goto fail;
        }
    }
  if (cg_job_set_limits (h, j, lim, err) < 0)
    goto fail;
  if (h->mode == CG_MODE_V1)
    for (int i = 0; i < j->ndirs; i++)
      {
        j->entry_fd[i] = openat (j->dirfd[i], "tasks", O_WRONLY | O_CLOEXEC);
        if (j->entry_fd[i] < 0)
          {
            sq_err_set (err, errno, "open '%s/%s/tasks'", h->path[i], j->name);
            goto fail;
          }
        j->nentry = i + 1;
      }
  return 0;

fail:
  cg_job_destroy (h, j, NULL);
  return -1;
}

int
cg_job_clone_fd (const struct cg_host *h, const struct cg_job *j)
{
  return h->mode == CG_MODE_V2 && j->ndirs > 0 ? j->dirfd[0] : -1;
}

int
cg_job_enter (const struct cg_job *j)
{
  /* A raw syscall: this runs between clone and execve. */
  for (int i = 0; i < j->nentry; i++)
    if (syscall (SYS_write, j->entry_fd[i], "0", 1) != 1)
      return -1;
  return 0;
}

void
cg_job_entered (struct cg_job *j)
{
  for (int i = 0; i < j->nentry; i++)
    if (j->entry_fd[i] >= 0)
      {
        if (!j->set)
          close (j->entry_fd[i]);
        j->entry_fd[i] = -1;
      }
  j->nentry = 0;
}

int
cg_job_attach (struct cg_host *h, struct cg_job *j, pid_t pid, sq_err *err)
{
  char v[32];

  snprintf (v, sizeof v, "%d", (int) pid);
  for (int i = 0; i < j->ndirs; i++)
    if (sq_write_file_at (j->dirfd[i], "cgroup.procs", v, err) < 0)
      return sq_err_wrap (err, "attach to cgroup '%s/%s'", h->path[i], j->name);
  return 0;
}

int
cg_job_cpu_ns (struct cg_host *h, struct cg_job *j, uint64_t *ns)
{
  if (h->mode == CG_MODE_V2)
    {
      uint64_t us;
      if (read_keyed (j->dirfd[0], "cpu.stat", "usage_usec", &us) < 0)
        return -1;
      *ns = us * 1000;
      return 0;
    }
  if (j->set)
    {
      if (sq_pread_u64 (j->set->usage_fd, "cpuacct.usage", ns, NULL) < 0)
        return -1;
      *ns = *ns > j->cpu_ns_base ? *ns - j->cpu_ns_base : 0;
      return 0;
    }
  return sq_read_u64_at (j->dirfd[h->ctrl_dir[CG_CPUACCT]], "cpuacct.usage", ns, NULL);
}

int
cg_job_stats (struct cg_host *h, struct cg_job *j, struct cg_stats *st)
{
  int mem = j->dirfd[h->ctrl_dir[CG_MEMORY]];
  int pids = j->dirfd[h->ctrl_dir[CG_PIDS]];

  memset (st, 0, sizeof *st);
  cg_job_cpu_ns (h, j, &st->cpu_ns);
  if (j->set)
    {
      uint64_t n = 0;
      pread_keyed (j->set->pids_events_fd, "max", &n);
      st->pids_max_events = n > j->pids_events_base ? n - j->pids_events_base : 0;
    }
  else
    read_keyed (pids, "pids.events", "max", &st->pids_max_events);
  if (h->mode == CG_MODE_V2)
    {
      if (sq_read_u64_at (mem, "memory.peak", &st->memory_peak_bytes, NULL) < 0)
        sq_read_u64_at (mem, "memory.current", &st->memory_peak_bytes, NULL);
      read_keyed (mem, "memory.events", "oom_kill", &st->oom_kills);
    }
  else if (j->set)
    {
      uint64_t n = 0;
      sq_pread_u64 (j->set->mem_max_fd, "memory.max_usage_in_bytes",
                    &st->memory_peak_bytes, NULL);
      pread_keyed (j->set->mem_oom_fd, "oom_kill", &n);
      st->oom_kills = n > j->oom_kills_base ? n - j->oom_kills_base : 0;
    }
  else
    {
      sq_read_u64_at (mem, "memory.max_usage_in_bytes", &st->memory_peak_bytes, NULL);
      read_keyed (mem, "memory.oom_control", "oom_kill", &st->oom_kills);
    }
  return 0;
}

int
cg_job_destroy (struct cg_host *h, struct cg_job *j, sq_err *err)
{
  int r = 0;

  cg_job_entered (j);
  if (j->set)
    {
      /* The set's directories go back with it; set_give makes sure they
       * are empty. */
      unsigned id = j->set->id;
      if (set_give (h, j->set) < 0)
        r = sq_err_set (err, 0, "cgroup 'p%u' of job %s still has processes after 5 s",
                        id, j->name);
      j->set = NULL;
      for (int i = 0; i < j->ndirs; i++)
        j->dirfd[i] = -1;
      j->ndirs = 0;
      return r;
    }
  for (int i = 0; i < j->ndirs; i++)
    {
      if (j->dirfd[i] < 0)
        continue;
      /* Normally empty already (every process of a job lives in its PID
       * namespace, gone with its init): then one rmdir does. Otherwise
       * kill and drain first. */
      int gone = unlinkat (h->dirfd[i], j->name, AT_REMOVEDIR) == 0 || errno == ENOENT;
      if (!gone && kill_and_drain (j->dirfd[i]) < 0)
        r = sq_err_set (err, 0, "cgroup '%s/%s' still has processes after 5 s",
                        h->path[i], j->name);
      close (j->dirfd[i]);
      j->dirfd[i] = -1;
      if (!gone && rmdir_retry (h->dirfd[i], j->name) < 0 && r == 0)
        r = sq_err_set (err, errno, "remove cgroup '%s/%s'", h->path[i], j->name);
    }
  j->ndirs = 0;
  return r;
}
