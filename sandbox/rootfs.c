/* The sandbox's file system: planned once per host, built per run.
 *
 * The new root is a small tmpfs. The host's /usr (and the /bin, /lib...
 * symlinks or directories beside it) and a short list of /etc entries are
 * bound read-only; passwd, group, hosts and nsswitch.conf are written fresh
 * so that no host account or name leaks in. /proc is private to the PID
 * namespace, /dev holds only null, zero, full, random and urandom, and the
 * job's scratch tmpfs appears as /work, /tmp and /dev/shm. The host's root
 * is detached after pivot_root, so /proc/self/mountinfo shows only these
 * mounts, none with a host path of the job.
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "../common/cleanup.h"

static const char passwd[]
    = "root:x:0:0:root:/:/usr/sbin/nologin\n"
      "sandbox:x:1000:1000:sandbox:/work:/bin/sh\n"
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char group[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";
static const char hosts[]
    = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "127.0.1.1\tsandbox\n";
static const char nsswitch[]
    = "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"
      "networks: files\nprotocols: files\nservices: files\n";

/* /etc entries that programs need and that hold no secrets. */
static const char *const etc_keep[] = {
  "ld.so.cache",  "ld.so.conf", "ld.so.conf.d", "localtime",  "timezone",
  "alternatives", "fonts",      "matplotlibrc", "mime.types", "protocols",
  "services",     "magic",      "mailcap",      NULL,
};

static const char *const top_dirs[] = {
  "bin", "sbin", "lib", "lib32", "lib64", "libx32", NULL,
};

static const char *const devices[] = {
  "null", "zero", "full", "random", "urandom", NULL,
};

struct planner
{
  struct sbx_host *h;
  size_t used, cap;
};

/* Copies s into the host's string arena. The arena has a fixed size and
 * never moves, so the returned pointers stay valid. */
static const char *
keep (struct planner *p, const char *s)
{
  size_t n = strlen (s) + 1;
  if (p->used + n > p->cap)
    return NULL;
  memcpy (p->h->strings + p->used, s, n);
  p->used += n;
  return p->h->strings + p->used - n;
}

static int
add (struct planner *p, enum rootfs_op op, const char *src, const char *dst, int is_dir,
     sq_err *err)
{
  struct rootfs_step *s;

  if (p->h->nsteps >= SBX_MAX_STEPS)
    return sq_err_set (err, 0, "rootfs plan has more than %d steps", SBX_MAX_STEPS);
  s = &p->h->steps[p->h->nsteps];
  s->op = op;
  s->is_dir = is_dir;
  s->src = src ? keep (p, src) : NULL;
  s->dst = keep (p, dst);
  if ((src && !s->src) || !s->dst)
    return sq_err_set (err, 0, "rootfs plan strings overflow");
  p->h->nsteps++;
  return 0;
}

/* Plans one host path: replicate a symlink, bind a directory or file. */
static int
plan_path (struct planner *p, const char *hostpath, const char *dst, sq_err *err)
{
  struct stat st;
  char target[PATH_MAX];
  ssize_t n;

  if (lstat (hostpath, &st) < 0)
    return 0;
  if (S_ISLNK (st.st_mode))
    {
      n = readlink (hostpath, target, sizeof target - 1);
      if (n < 0)
        return 0;
      target[n] = '\0';
      return add (p, RF_SYMLINK, target, dst, 0, err);
    }
  if (S_ISDIR (st.st_mode))
    return add (p, RF_BIND_RO, hostpath, dst, 1, err);
  if (S_ISREG (st.st_mode))
    return add (p, RF_BIND_RO, hostpath, dst, 0, err);
  return 0;
}

/* The plan as sandq-init receives it: per step op, is_dir, src, dst. */
static int
serialize_plan (struct sbx_host *h, sq_err *err)
{
  size_t size = 0;
  char *p;

  for (unsigned i = 0; i < h->nsteps; i++)
    {
      const struct rootfs_step *s = &h->steps[i];
      size += 2 + (s->src ? strlen (s->src) : 0) + 1 + strlen (s->dst) + 1;
    }
  if (size > INIT_PLAN_MAX)
    return sq_err_set (err, E2BIG, "the rootfs plan exceeds %d KiB", INIT_PLAN_MAX >> 10);
  h->plan = p = malloc (size ? size : 1);
  if (!p)
    return sq_err_set (err, ENOMEM, "the rootfs plan");
  for (unsigned i = 0; i < h->nsteps; i++)
    {
      const struct rootfs_step *s = &h->steps[i];
      const char *src = s->src ? s->src : "";
      *p++ = (char) s->op;
      *p++ = (char) s->is_dir;
      p = stpcpy (p, src) + 1;
      p = stpcpy (p, s->dst) + 1;
    }
  h->plan_size = size;
  return 0;
}

int
sbx_rootfs_plan (struct sbx_host *h, sq_err *err)
{
  struct planner p = { .h = h, .cap = 64 * 1024 };
  char src[PATH_MAX], dst[PATH_MAX];
  DIR *d;
  struct dirent *e;

  h->strings = malloc (p.cap);
  if (!h->strings)
    return sq_err_set (err, ENOMEM, "rootfs plan");
  h->nsteps = 0;
  static const char *const mkdirs[] = { "etc", "proc", "dev", "work", "tmp", NULL };
  for (int i = 0; mkdirs[i]; i++)
    if (add (&p, RF_DIR, NULL, mkdirs[i], 1, err) < 0)
      return -1;
  if (plan_path (&p, "/usr", "usr", err) < 0)
    return -1;
  for (int i = 0; top_dirs[i]; i++)
    {
      snprintf (src, sizeof src, "/%s", top_dirs[i]);
      if (plan_path (&p, src, top_dirs[i], err) < 0)
        return -1;
    }
  for (int i = 0; etc_keep[i]; i++)
    {
      snprintf (src, sizeof src, "/etc/%s", etc_keep[i]);
      snprintf (dst, sizeof dst, "etc/%s", etc_keep[i]);
      if (plan_path (&p, src, dst, err) < 0)
        return -1;
    }
  /* The host's CA certificates (public: /etc/ssl/private stays out), so
   * that a job with a network profile checks TLS as the host does. */
  if (add (&p, RF_DIR, NULL, "etc/ssl", 1, err) < 0
      || plan_path (&p, "/etc/ssl/certs", "etc/ssl/certs", err) < 0
      || plan_path (&p, "/etc/ssl/openssl.cnf", "etc/ssl/openssl.cnf", err) < 0)
    return -1;
  /* Python's site configuration: /etc/python3, /etc/python3.11, ... */
  d = opendir ("/etc");
  while (d && (e = readdir (d)))
    if (strncmp (e->d_name, "python", 6) == 0)
      {
        snprintf (src, sizeof src, "/etc/%s", e->d_name);
        snprintf (dst, sizeof dst, "etc/%s", e->d_name);
        if (plan_path (&p, src, dst, err) < 0)
          {
            closedir (d);
            return -1;
          }
      }
  if (d)
    closedir (d);
  if (add (&p, RF_FILE, passwd, "etc/passwd", 0, err) < 0
      || add (&p, RF_FILE, group, "etc/group", 0, err) < 0
      || add (&p, RF_FILE, hosts, "etc/hosts", 0, err) < 0
      || add (&p, RF_FILE, "sandbox\n", "etc/hostname", 0, err) < 0
      || add (&p, RF_FILE, nsswitch, "etc/nsswitch.conf", 0, err) < 0)
    return -1;
  for (int i = 0; devices[i]; i++)
    {
      snprintf (src, sizeof src, "/dev/%s", devices[i]);
      snprintf (dst, sizeof dst, "dev/%s", devices[i]);
      if (add (&p, RF_DEV, src, dst, 0, err) < 0)
        return -1;
    }
  return serialize_plan (h, err);
}

/* ---- Building the root. The template is built once per host (and again
 * when it is a minute old) by a thread of the supervisor, in a mount
 * namespace of its own; each sandbox's init starts in a copy of it. ---- */

#define FAIL(what)                                                                       \
  do                                                                                     \
    {                                                                                    \
      fail_msg (msg, msglen, what, dst_of_step, errno);                                  \
      return -1;                                                                         \
    }                                                                                    \
  while (0)

static void
fail_msg (char *msg, size_t len, const char *what, const char *path, int e)
{
  /* snprintf is async-signal-safe in glibc for these conversions. */
  snprintf (msg, len, "%s '%s': %s", what, path ? path : "", strerror (e));
}

/* Sets mount attributes on path and, with AT_RECURSIVE, on every mount
 * below it. Unlike a remount, it only adds what is asked, so the flags a
 * user namespace must keep locked (nosuid, nodev...) need not be known. */
static int
set_attr (const char *path, unsigned flags, uint64_t attr)
{
  struct mount_attr ma = { .attr_set = attr };
  return (int) syscall (SYS_mount_setattr, AT_FDCWD, path, flags, &ma, sizeof ma);
}

static int
make_target (const char *dst, int is_dir)
{
  int fd;

  if (is_dir)
    return mkdir (dst, 0755) < 0 && errno != EEXIST ? -1 : 0;
  fd = open (dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0)
    return -1;
  close (fd);
  return 0;
}

/* The plan's directories, symlinks, binds and files, under the new root
 * (the working directory); device nodes come with /dev (make_dev). */
static int
place_steps (const struct rootfs_step *steps, unsigned nsteps, char *msg, size_t msglen)
{
  const char *dst_of_step = "/";

  for (unsigned i = 0; i < nsteps; i++)
    {
      const struct rootfs_step *s = &steps[i];
      int fd;

      dst_of_step = s->dst;
      switch (s->op)
        {
        case RF_DIR:
          if (mkdir (s->dst, 0755) < 0 && errno != EEXIST)
            FAIL ("mkdir");
          break;
        case RF_SYMLINK:
          if (symlink (s->src, s->dst) < 0)
            FAIL ("symlink");
          break;
        case RF_BIND_RO:
          if (make_target (s->dst, s->is_dir) < 0)
            FAIL ("create mount point");
          if (mount (s->src, s->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
            FAIL ("bind");
          break;
        case RF_FILE:
          fd = open (s->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
          if (fd < 0)
            FAIL ("create");
          if (write (fd, s->src, strlen (s->src)) < 0)
            {
              close (fd);
              FAIL ("write");
            }
          close (fd);
          break;
        case RF_DEV:
          /* Device nodes live on /dev, mounted below; see there. */
          break;
        }
    }
  return 0;
}

/* /dev: a small tmpfs with the plan's device nodes bound in, the fd
 * symlinks and shm, then read-only itself. */
static int
make_dev (const struct rootfs_step *steps, unsigned nsteps, char *msg, size_t msglen)
{
  const char *dst_of_step;

  dst_of_step = "dev";
  if (mount ("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
             "size=64k,nr_inodes=64,mode=0755")
      < 0)
    FAIL ("mount");
  for (unsigned i = 0; i < nsteps; i++)
    {
      const struct rootfs_step *s = &steps[i];
      if (s->op != RF_DEV)
        continue;
      dst_of_step = s->dst;
      if (make_target (s->dst, 0) < 0)
        FAIL ("create device node");
      if (mount (s->src, s->dst, NULL, MS_BIND, NULL) < 0)
        FAIL ("bind device");
    }
  dst_of_step = "dev";
  if (symlink ("/proc/self/fd", "dev/fd") < 0
      || symlink ("/proc/self/fd/0", "dev/stdin") < 0
      || symlink ("/proc/self/fd/1", "dev/stdout") < 0
      || symlink ("/proc/self/fd/2", "dev/stderr") < 0 || mkdir ("dev/shm", 0755) < 0)
    FAIL ("populate");
  /* Only /dev itself: its device binds must stay usable. */
  if (set_attr ("dev", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) < 0)
    FAIL ("make read-only");
  return 0;
}

int
sbx_template_build (const struct rootfs_step *steps, unsigned nsteps, int own, char *msg,
                    size_t msglen)
{
  const char *dst_of_step = "/";

  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    FAIL ("make mounts private");
  /* The new root is mounted over /tmp of this private namespace only. */
  dst_of_step = "/tmp";
  if (mount ("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
             "size=1m,nr_inodes=4096,mode=0755")
      < 0)
    FAIL ("mount the new root");
  if (chdir ("/tmp") < 0)
    FAIL ("enter the new root");
  if (place_steps (steps, nsteps, msg, msglen) < 0)
    return -1;
  /* Everything planned is in place: the root and all binds below it turn
   * read-only, nosuid and nodev in one call. */
  dst_of_step = "/";
  if (set_attr (".", AT_RECURSIVE,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
      < 0)
    FAIL ("make read-only (mount_setattr needs Linux 5.12 or later)");

  /* The kernel lets a user namespace mount a proc only where one is
   * already fully visible: this one, covered by each sandbox's own, is
   * it (mounted after the root turned read-only: a sandbox's own proc
   * may be no less restricted than it). It shows no process to anybody but root
   * (hidepid), and the sandbox can never uncover it: its mounts are locked, it has no
   * capability and seccomp denies umount. */
  dst_of_step = "proc";
  if (mount ("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
             own ? NULL : "hidepid=invisible")
      < 0)
    FAIL ("mount");
  if (make_dev (steps, nsteps, msg, msglen) < 0)
    return -1;

  dst_of_step = "/";
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    FAIL ("pivot_root");
  /* The old root is stacked under the new one: detach it whole. */
  if (umount2 (".", MNT_DETACH) < 0)
    FAIL ("detach the host root");
  if (chdir ("/") < 0)
    FAIL ("chdir");
  return 0;
}

/* ---- Below runs in sandq-init, the sandbox's pid 1. ---- */

int
sbx_rootfs_enter (int scratch_fd, int new_proc, char *msg, size_t msglen)
{
  const char *dst_of_step = "/";

  /* init was cloned in the template's namespace: its mount namespace is a
   * copy of the template, root and all, each mount locked by the kernel
   * (the copy belongs to the sandbox's less privileged user namespace). */
  if (chdir ("/") < 0)
    FAIL ("chdir");
  dst_of_step = "proc";
  if (new_proc
      && mount ("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    FAIL ("mount");
  dst_of_step = "proc/sys";
  if (mount ("proc/sys", "proc/sys", NULL, MS_BIND | MS_REC, NULL) < 0
      || set_attr ("proc/sys", AT_RECURSIVE,
                   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                       | MOUNT_ATTR_NOEXEC)
             < 0)
    FAIL ("make read-only");

  /* The scratch tmpfs was made by the supervisor and is held by fd only.
   * It goes on /tmp, its parts are bound where they belong, and last its
   * own tmp/ covers it there. Detaching it instead would cost an RCU
   * grace period (the kernel waits for one on every unmount), and the
   * covered root holds nothing but these three directories. */
  dst_of_step = "tmp";
  if (syscall (SYS_move_mount, scratch_fd, "", AT_FDCWD, "tmp", MOVE_MOUNT_F_EMPTY_PATH)
      < 0)
    FAIL ("attach the scratch disk at");
  dst_of_step = "work";
  if (mount ("tmp/work", "work", NULL, MS_BIND, NULL) < 0)
    FAIL ("bind");
  dst_of_step = "dev/shm";
  if (mount ("tmp/shm", "dev/shm", NULL, MS_BIND, NULL) < 0)
    FAIL ("bind");
  dst_of_step = "tmp";
  if (mount ("tmp/tmp", "tmp", NULL, MS_BIND, NULL) < 0)
    FAIL ("bind");
  return 0;
}
