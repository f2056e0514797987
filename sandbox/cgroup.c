/* Cgroups for sandboxes: what v1 and v2 share, and the API of cgroup.h,
 * which hands each hierarchy's own work to its half (cgroup_v1.c,
 * cgroup_v2.c) through struct cg_ops (cgroup_internal.h). */
#define _GNU_SOURCE
#include "cgroup.h"
#include "cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"

const char *const cg_ctrl_names[CG_NCTRL] = {
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
int
cg_own_path (const char *ctrl, char *out, size_t len, sq_err *err)
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

int
cg_mkdir_at (int dirfd, const char *name, sq_err *err, const char *shown)
{
  if (mkdirat (dirfd, name, 0755) < 0 && errno != EEXIST)
    return sq_err_set (err, errno, "create cgroup '%s/%s'", shown, name);
  return 0;
}

/* The subtree directory is shared by every sandq process started in the
 * same cgroup, and the last one to leave removes it. Each holds a shared
 * flock on the directory for its life; one that leaves removes it only if
 * it can take the lock exclusively, so never while another process has it
 * open to make its own directories in. A process that opened it just
 * before such a removal finds, once it holds its share, that the name no
 * longer leads to what it opened, and starts over. */
int
cg_subtree_open (int bfd, const char *base, sq_err *err)
{
  uint64_t deadline = sq_now_ms () + 2000;

  for (;;)
    {
      cleanup_close int sfd = -1;
      struct stat held, named;

      if (cg_mkdir_at (bfd, CG_SUBTREE, err, base) < 0)
        return -1;
      sfd = openat (bfd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sfd < 0 && errno != ENOENT)
        return sq_err_set (err, errno, "open cgroup '%s/" CG_SUBTREE "'", base);
      /* A file system without flock still works, as before there was a
       * lock: the rmdir of a directory in use fails. */
      if (sfd >= 0 && (flock (sfd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
          && fstat (sfd, &held) == 0 && fstatat (bfd, CG_SUBTREE, &named, 0) == 0
          && held.st_ino == named.st_ino && held.st_dev == named.st_dev)
        return steal_fd (&sfd);
      if (sq_now_ms () > deadline)
        return sq_err_set (err, EAGAIN,
                           "cgroup '%s/" CG_SUBTREE "' was being removed by another "
                           "sandq process and could not be made again within 2 s",
                           base);
      struct timespec ts = { 0, 1000000 };
      nanosleep (&ts, NULL);
    }
}

void
cg_subtree_leave (int sfd)
{
  if (sfd < 0)
    return;
  /* A failed conversion drops the shared lock too: fine, this process is
   * leaving. */
  if (flock (sfd, LOCK_EX | LOCK_NB) == 0)
    {
      cleanup_close int bfd = openat (sfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      /* Fails, as it should, while a dead instance's leftovers are in it. */
      if (bfd >= 0)
        unlinkat (bfd, CG_SUBTREE, AT_REMOVEDIR);
    }
  close (sfd);
}

/* Kills everything in the cgroup at dirfd and waits (bounded) until it is
 * empty. Only processes inside sandq's own subtree can be listed here. */
int
cg_kill_and_drain (int dirfd)
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
int
cg_rmdir_retry (int parentfd, const char *name)
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
      cg_kill_and_drain (jfd);
      if (cg_rmdir_retry (ifd, e->d_name) == 0 && strcmp (e->d_name, "supervisor"))
        n++;
    }
  closedir (d);
  /* A one-shot instance is itself the job's cgroup. */
  cg_kill_and_drain (ifd);
  cg_rmdir_retry (subtreefd, inst);
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

int
cg_host_detect (struct cg_host *h, int one_shot, sq_err *err)
{
  struct statfs sfs;
  unsigned long long start = 0;

  memset (h, 0, sizeof *h);
  pthread_mutex_init (&h->pool_lock, NULL);
  for (int i = 0; i < CG_NCTRL; i++)
    h->dirfd[i] = h->subtree_fd[i] = -1;
  if (proc_starttime (getpid (), &start) < 0)
    return sq_err_set (err, errno, "read /proc/self/stat");
  snprintf (h->instance, sizeof h->instance, "%d-%llu", (int) getpid (), start);
  if (statfs (CG_MOUNT, &sfs) < 0)
    return sq_err_set (err, errno, "statfs '" CG_MOUNT "'");
  if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    {
      h->mode = CG_MODE_V2;
      h->ops = &cg_v2_ops;
    }
  else
    {
      struct statfs u;
      h->mode = CG_MODE_V1;
      h->ops = &cg_v1_ops;
      h->one_shot = one_shot;
      h->hybrid
          = statfs (CG_MOUNT "/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC;
    }
  return 0;
}

int
cg_host_setup (struct cg_host *h, sq_err *err)
{
  if (h->ready)
    return 0;
  if (h->ops->init (h, err) < 0)
    {
      cg_host_fini (h);
      return -1;
    }
  cg_sweep (h);
  h->ready = 1;
  return 0;
}

int
cg_host_init (struct cg_host *h, int one_shot, sq_err *err)
{
  if (cg_host_detect (h, one_shot, err) < 0)
    return -1;
  return cg_host_setup (h, err);
}

void
cg_host_describe (const struct cg_host *h, char *buf, size_t len)
{
  h->ops->describe (h, buf, len);
}

void
cg_host_fini (struct cg_host *h)
{
  if (h->ops && h->ops->fini)
    h->ops->fini (h);
  for (int i = 0; i < h->ndirs; i++)
    {
      if (h->dirfd[i] < 0)
        continue;
      /* v1: the instance, or for one_shot the subtree, whose share is
       * given back below. */
      if (h->subtree_fd[i] >= 0)
        {
          close (h->dirfd[i]);
          h->dirfd[i] = -1;
          if (!h->one_shot)
            unlinkat (h->subtree_fd[i], h->instance, AT_REMOVEDIR);
          continue;
        }
      /* v2: removing our own instance directory; fails harmlessly if the
       * supervisor leaf still holds this process. */
      cleanup_close int sfd
          = openat (h->dirfd[i], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      close (h->dirfd[i]);
      h->dirfd[i] = -1;
      if (sfd >= 0)
        unlinkat (sfd, h->instance, AT_REMOVEDIR);
    }
  for (int i = 0; i < CG_NCTRL; i++)
    {
      cg_subtree_leave (h->subtree_fd[i]);
      h->subtree_fd[i] = -1;
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
int
cg_pread_keyed (int fd, const char *key, uint64_t *out)
{
  char buf[4096];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return parse_keyed (buf, key, out);
}

int
cg_read_keyed (int dirfd, const char *file, const char *key, uint64_t *out)
{
  cleanup_close int fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC);

  return fd < 0 ? -1 : cg_pread_keyed (fd, key, out);
}

int
cg_write_knob (int dirfd, const char *file, const char *value, const char *job,
               sq_err *err)
{
  if (sq_write_file_at (dirfd, file, value, err) < 0)
    return sq_err_wrap (err, "cgroup of job %s", job);
  return 0;
}

int
cg_job_set_limits (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                   sq_err *err)
{
  return h->ops->set_limits (h, j, lim, err);
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
      if (cg_v1_job_take (h, j, lim, err) < 0)
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
cg_job_charge_files (struct cg_host *h, struct cg_job *j, int *join, int *leave,
                     sq_err *err)
{
  int d = h->mode == CG_MODE_V1 ? h->ctrl_dir[CG_MEMORY] : 0;
  const char *entry = h->mode == CG_MODE_V1 ? "tasks" : "cgroup.procs";
  /* The caller's own: on v1 the memory cgroup it was started in (the
   * parent of the subtree), on v2 the supervisor leaf it moved into. */
  const char *home = h->mode == CG_MODE_V2 ? "supervisor/cgroup.procs"
                     : h->one_shot         ? "../tasks"
                                           : "../../tasks";

  *join = -1;
  if (leave)
    *leave = -1;
  if (d >= j->ndirs || j->dirfd[d] < 0)
    return sq_err_set (err, EINVAL, "the job has no memory cgroup");
  *join = openat (j->dirfd[d], entry, O_WRONLY | O_CLOEXEC);
  if (*join < 0)
    return sq_err_set (err, errno, "open '%s/%s/%s'", h->path[d], j->name, entry);
  if (leave)
    {
      *leave = openat (h->dirfd[d], home, O_WRONLY | O_CLOEXEC);
      if (*leave < 0)
        {
          int e = errno;
          close (*join);
          *join = -1;
          return sq_err_set (err, e, "open '%s/%s'", h->path[d], home);
        }
    }
  return 0;
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
  return h->ops->cpu_ns (h, j, ns);
}

int
cg_job_tasks (struct cg_host *h, struct cg_job *j, uint64_t *n)
{
  if (j->set)
    return sq_pread_u64 (j->set->pids_current_fd, "pids.current", n, NULL);
  int dfd = j->dirfd[h->mode == CG_MODE_V2 ? 0 : h->ctrl_dir[CG_PIDS]];
  return dfd < 0 ? -1 : sq_read_u64_at (dfd, "pids.current", n, NULL);
}

int
cg_job_stats (struct cg_host *h, struct cg_job *j, struct cg_stats *st)
{
  memset (st, 0, sizeof *st);
  h->ops->cpu_ns (h, j, &st->cpu_ns);
  h->ops->stats (h, j, st);
  return 0;
}

int
cg_job_destroy (struct cg_host *h, struct cg_job *j, sq_err *err)
{
  int r = 0;

  cg_job_entered (j);
  if (j->set)
    return cg_v1_job_give (h, j, err);
  for (int i = 0; i < j->ndirs; i++)
    {
      if (j->dirfd[i] < 0)
        continue;
      /* Normally empty already (every process of a job lives in its PID
       * namespace, gone with its init): then one rmdir does. Otherwise
       * kill and drain first. */
      int gone = unlinkat (h->dirfd[i], j->name, AT_REMOVEDIR) == 0 || errno == ENOENT;
      if (!gone && cg_kill_and_drain (j->dirfd[i]) < 0)
        r = sq_err_set (err, 0, "cgroup '%s/%s' still has processes after 5 s",
                        h->path[i], j->name);
      close (j->dirfd[i]);
      j->dirfd[i] = -1;
      if (!gone && cg_rmdir_retry (h->dirfd[i], j->name) < 0 && r == 0)
        r = sq_err_set (err, errno, "remove cgroup '%s/%s'", h->path[i], j->name);
    }
  j->ndirs = 0;
  return r;
}
