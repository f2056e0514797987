/* One run: clone into fresh namespaces, supervise, collect, clean up.
 *
 * The process tree of a run:
 *
 *   supervisor (caller's thread)
 *     └─ init: pid 1 of new user, pid, mount, net, ipc, uts and cgroup
 *        namespaces; builds the root, then waits for the program
 *          └─ program: uid 1000 inside (sbx_uid() outside), no
 *             capabilities, no_new_privs, seccomp, rlimits
 *
 * When the program exits, init reports its wait status and exits; the
 * kernel then kills everything else in the PID namespace, so double-forked
 * daemons and setsid() escapees die with it. Limits the kernel does not
 * enforce by itself (wall time, total CPU, output) are enforced by killing
 * init from the supervisor, which has the same effect. The cgroup is then
 * drained and removed.
 *
 * Between clone and execve the child runs on a copy of a possibly
 * multi-threaded process: it must not allocate or take locks, so it uses
 * only syscalls and data prepared beforehand. Raw syscalls, too, for the
 * uid and group calls: glibc's wrappers would try to apply them to the
 * parent's other threads, and can wait forever for a thread that was
 * being created at the moment of the clone.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"

/* Exit code of init when it could not even report (parent gone). */
#define INIT_EXIT_ABORT 125

/* Report records from inside: one kind byte, then data. */
#define REC_SETUP 'F'  /* text: the sandbox could not be built */
#define REC_EXEC 'E'   /* text: the command could not be started */
#define REC_STATUS 'S' /* int: the program's wait status */

#define CPU_POLL_MS 20

/* What init learns only when the job is known (it may have been started
 * before, see sbx_prewarm): sent on the sync pipe after the byte 'c'.
 * The strings follow the header, each NUL-terminated: argv, then envp. */
struct job_header
{
  uint32_t size; /* of the strings */
  uint32_t argc, envc;
  struct sbx_limits lim;
};

/* init's copy, in its own memory: it may not allocate. */
static struct
{
  struct job_header hdr;
  char strings[SBX_JOB_MAX_BYTES];
  char *argv[SBX_JOB_MAX_ARGS + 1];
  char *envp[SBX_JOB_MAX_ARGS + 1];
} job_in;

struct child_args
{
  int own_netns;  /* 0: a reused slot namespace, already set up */
  int build_root; /* 1: cloned from the host's mount namespace, not the
                     template's: build the root here first */
  const struct sbx_host *h;
  const struct sbx *b;
  int sync_rd;
  int report_wr;
  int in_fd;
  int out_wr;
  int err_wr;
};

static void
report (int fd, char kind, const void *data, size_t len)
{
  char buf[512];

  if (len > sizeof buf - 1)
    len = sizeof buf - 1;
  buf[0] = kind;
  memcpy (buf + 1, data, len);
  /* One write: records stay whole in the pipe. */
  if (write (fd, buf, len + 1) < 0)
    return;
}

static void
report_text (int fd, char kind, const char *what, int e)
{
  char msg[400];
  if (e)
    snprintf (msg, sizeof msg, "%s: %s", what, strerror (e));
  else
    snprintf (msg, sizeof msg, "%s", what);
  report (fd, kind, msg, strlen (msg));
}

/* Closes every fd except those in keep (unsorted, -1 entries ignored). */
static void
close_all_except (const int *keep, int n)
{
  int sorted[8], m = 0;
  unsigned lo = 0;

  for (int i = 0; i < n; i++)
    if (keep[i] >= 0)
      {
        int j = m++;
        while (j > 0 && sorted[j - 1] > keep[i])
          {
            sorted[j] = sorted[j - 1];
            j--;
          }
        sorted[j] = keep[i];
      }
  for (int i = 0; i < m; i++)
    {
      if ((unsigned) sorted[i] > lo)
        syscall (SYS_close_range, lo, sorted[i] - 1, 0);
      lo = sorted[i] + 1;
    }
  syscall (SYS_close_range, lo, ~0U, 0);
}

/* Empties the bounding and ambient sets; needs CAP_SETPCAP. */
static int
drop_bounding (int cap_last)
{
  for (int c = 0; c <= cap_last; c++)
    if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return -1;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return -1;
  return 0;
}

/* Empties the effective, permitted and inheritable sets. */
static int
clear_caps (void)
{
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];

  memset (data, 0, sizeof data);
  return (int) syscall (SYS_capset, &hdr, data);
}

static int
set_limits (const struct sbx_limits *l)
{
  /* A second layer under the cgroup: per process, enforced by the kernel
   * even if the cgroup write were lost. */
  rlim_t cpu_s = (l->cpu_ms + 999) / 1000 + 1;
  struct
  {
    int res;
    rlim_t soft, hard;
  } r[] = {
    { RLIMIT_CPU, cpu_s, cpu_s + 1 },
    { RLIMIT_NPROC, l->pids, l->pids },
    { RLIMIT_FSIZE, l->disk_bytes, l->disk_bytes },
    { RLIMIT_NOFILE, l->nofile, l->nofile },
    { RLIMIT_CORE, 0, 0 },
    { RLIMIT_MEMLOCK, 64 << 10, 64 << 10 },
    { RLIMIT_MSGQUEUE, 0, 0 },
  };
  for (size_t i = 0; i < SQ_ARRAY_SIZE (r); i++)
    {
      struct rlimit rl = { r[i].soft, r[i].hard };
      if (setrlimit (r[i].res, &rl) < 0)
        return -1;
    }
  return 0;
}

/* execve with a search of the fixed PATH; never returns on success. */
static void
exec_in_path (char *const *argv, char *const *envp, int report_fd)
{
  const char *cmd = argv[0];
  char path[PATH_MAX];
  int saw_eacces = 0;
  char msg[400];

  if (strchr (cmd, '/'))
    {
      execve (cmd, argv, envp);
      if (errno == ENOENT)
        snprintf (msg, sizeof msg,
                  "the command '%.200s' was not found in the "
                  "sandbox",
                  cmd);
      else
        snprintf (msg, sizeof msg, "the command '%.200s' could not be started: %s", cmd,
                  strerror (errno));
      report_text (report_fd, REC_EXEC, msg, 0);
      return;
    }
  for (const char *p = SBX_PATH; *p;)
    {
      const char *colon = strchr (p, ':');
      size_t dlen = colon ? (size_t) (colon - p) : strlen (p);
      int n = snprintf (path, sizeof path, "%.*s/%s", (int) dlen, p, cmd);
      if (n > 0 && (size_t) n < sizeof path)
        {
          execve (path, argv, envp);
          if (errno == EACCES)
            saw_eacces = 1;
          else if (errno != ENOENT && errno != ENOTDIR)
            {
              snprintf (msg, sizeof msg,
                        "the command '%.200s' could not be "
                        "started: %s",
                        cmd, strerror (errno));
              report_text (report_fd, REC_EXEC, msg, 0);
              return;
            }
        }
      p += dlen + (colon ? 1 : 0);
    }
  if (saw_eacces)
    snprintf (msg, sizeof msg, "the command '%.200s' is not executable", cmd);
  else
    snprintf (msg, sizeof msg,
              "the command '%.200s' was not found in the "
              "sandbox (PATH is " SBX_PATH ")",
              cmd);
  report_text (report_fd, REC_EXEC, msg, 0);
}

static __attribute__ ((noreturn)) void
program_main (const struct child_args *a, const struct job_header *job, int report_fd)
{
  if (dup2 (a->in_fd, 0) < 0 || dup2 (a->out_wr, 1) < 0 || dup2 (a->err_wr, 2) < 0)
    {
      report_text (report_fd, REC_SETUP, "dup2 stdio", errno);
      _exit (127);
    }
  {
    int keep[] = { 0, 1, 2, report_fd };
    close_all_except (keep, 4);
  }
  if (set_limits (&job->lim) < 0)
    {
      report_text (report_fd, REC_SETUP, "setrlimit", errno);
      _exit (127);
    }
  /* Capabilities go in this order: the bounding set needs CAP_SETPCAP,
   * and setresuid needs CAP_SETUID, so both come before the final capset
   * that empties every set. no_new_privs then keeps file capabilities and
   * setuid bits from giving any back at execve. */
  if (drop_bounding (a->h->cap_last) < 0
      || syscall (SYS_setresgid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0
      || syscall (SYS_setresuid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0
      || clear_caps () < 0 || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      report_text (report_fd, REC_SETUP, "drop privileges", errno);
      _exit (127);
    }
  /* The seccomp filter came from init (see there). */
  if (chdir ("/work") < 0)
    {
      report_text (report_fd, REC_SETUP, "chdir /work", errno);
      _exit (127);
    }
  exec_in_path (job_in.argv, job_in.envp, report_fd);
  _exit (127);
}

struct prog_start
{
  const struct child_args *a;
  int report_fd;
};

/* Reads exactly len bytes; 0 on success. */
static int
read_full (int fd, void *buf, size_t len)
{
  char *p = buf;
  while (len > 0)
    {
      ssize_t n = read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= n;
    }
  return 0;
}

/* Receives the job (after the 'c' byte) into job_in; 0 on success. */
static int
receive_job (int fd)
{
  struct job_header *h = &job_in.hdr;
  char *p, *end;

  if (read_full (fd, h, sizeof *h) < 0 || h->size > SBX_JOB_MAX_BYTES || h->argc < 1
      || h->argc > SBX_JOB_MAX_ARGS || h->envc > SBX_JOB_MAX_ARGS
      || read_full (fd, job_in.strings, h->size) < 0)
    return -1;
  p = job_in.strings;
  end = p + h->size;
  for (uint32_t i = 0; i < h->argc + h->envc; i++)
    {
      char *nul = memchr (p, '\0', end - p);
      if (!nul)
        return -1;
      if (i < h->argc)
        job_in.argv[i] = p;
      else
        job_in.envp[i - h->argc] = p;
      p = nul + 1;
    }
  job_in.argv[h->argc] = NULL;
  job_in.envp[h->envc] = NULL;
  return 0;
}

static int
program_entry (void *arg)
{
  const struct prog_start *ps = arg;
  program_main (ps->a, &job_in.hdr, ps->report_fd);
}

/* The program's stack between clone and execve. It lies in init's own
 * copy of memory, which the program shares (CLONE_VM) while init waits. */
static char prog_stack[64 * 1024] __attribute__ ((aligned (64)));

static __attribute__ ((noreturn)) void
init_main (const struct child_args *a)
{
  char msg[400];
  char go;
  pid_t prog;
  int report_fd = a->report_wr;

  /* If the supervisor dies, the whole sandbox dies with it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (cg_job_enter (&a->b->job) < 0)
    {
      report_text (report_fd, REC_SETUP, "enter the job's cgroup", errno);
      _exit (INIT_EXIT_ABORT);
    }
  {
    int keep[]
        = { a->sync_rd, a->report_wr, a->in_fd, a->out_wr, a->err_wr, a->b->scratch_fd };
    close_all_except (keep, 6);
  }
  /* Wait until the supervisor has written the id maps. EOF means it gave
   * up. */
  if (read (a->sync_rd, &go, 1) != 1)
    _exit (INIT_EXIT_ABORT);

  if (syscall (SYS_setgroups, 0, NULL) < 0)
    {
      report_text (report_fd, REC_SETUP, "clear supplementary groups", errno);
      _exit (INIT_EXIT_ABORT);
    }
  /* Files made while building the root must belong to a mapped id. */
  syscall (SYS_setfsgid, SBX_INNER_ID);
  syscall (SYS_setfsuid, SBX_INNER_ID);
  /* The kernel clears the parent-death signal when the fsuid or fsgid
   * changes: arm it again, then make sure the supervisor did not die in
   * between (its end of the report pipe would be closed). */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  {
    struct pollfd pf = { report_fd, POLLOUT, 0 };
    if (poll (&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP)))
      _exit (INIT_EXIT_ABORT);
  }
  if (a->own_netns && sbx_loopback_up () < 0)
    {
      report_text (report_fd, REC_SETUP, "bring up the loopback device", errno);
      _exit (INIT_EXIT_ABORT);
    }
  if (sethostname ("sandbox", 7) < 0)
    {
      report_text (report_fd, REC_SETUP, "sethostname", errno);
      _exit (INIT_EXIT_ABORT);
    }
  if ((a->build_root && sbx_template_build (a->h, 1, msg, sizeof msg) < 0)
      || sbx_rootfs_enter (a->b->scratch_fd, !a->build_root, msg, sizeof msg) < 0)
    {
      report_text (report_fd, REC_SETUP, msg, 0);
      _exit (INIT_EXIT_ABORT);
    }
  close (a->b->scratch_fd);

  /* Nothing of the program runs before the supervisor says so. The job's
   * cgroup (entered above) becomes the root of our cgroup namespace. */
  if (read (a->sync_rd, &go, 1) != 1 || go != 'c')
    _exit (INIT_EXIT_ABORT);
  if (receive_job (a->sync_rd) < 0)
    {
      report_text (report_fd, REC_SETUP, "receive the job", 0);
      _exit (INIT_EXIT_ABORT);
    }
  close (a->sync_rd);
  if (unshare (CLONE_NEWCGROUP) < 0)
    {
      report_text (report_fd, REC_SETUP, "unshare the cgroup namespace", errno);
      _exit (INIT_EXIT_ABORT);
    }

  struct child_args pa = *a;
  if (pa.in_fd < 0)
    {
      pa.in_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (pa.in_fd < 0)
        {
          report_text (report_fd, REC_SETUP, "open /dev/null", errno);
          _exit (INIT_EXIT_ABORT);
        }
    }
  /* The filter is loaded once, here, and the program inherits it. It
   * denies nothing that init or the program still do before execve. */
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
      || sbx_seccomp_load (&a->h->seccomp) < 0)
    {
      report_text (report_fd, REC_SETUP, "load the seccomp filter", errno);
      _exit (INIT_EXIT_ABORT);
    }
  /* vfork-style: the program borrows init's memory until its execve, so
   * no page tables are copied, and init sleeps until then. */
  struct prog_start ps = { &pa, report_fd };
  prog = clone (program_entry, prog_stack + sizeof prog_stack,
                CLONE_VM | CLONE_VFORK | SIGCHLD, &ps);
  if (prog < 0)
    {
      report_text (report_fd, REC_SETUP, "start the program", errno);
      _exit (INIT_EXIT_ABORT);
    }

  if (pa.in_fd >= 0)
    close (pa.in_fd);
  close (a->out_wr);
  close (a->err_wr);
  /* init keeps nothing it does not need: no capabilities, no new privs,
   * the same seccomp filter. As pid 1 it ignores signals from inside. */
  drop_bounding (a->h->cap_last);
  clear_caps ();
  for (;;)
    {
      int st;
      pid_t w = waitpid (-1, &st, 0);
      if (w == prog)
        {
          report (report_fd, REC_STATUS, &st, sizeof st);
          _exit (0);
        }
      if (w < 0 && errno != EINTR)
        _exit (INIT_EXIT_ABORT);
    }
}

static int
write_id_map (pid_t pid, const char *file, unsigned outer, sq_err *err)
{
  char path[64], map[64];

  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  snprintf (map, sizeof map, "%d %u 1\n", SBX_INNER_ID, outer);
  if (sq_write_file_at (AT_FDCWD, path, map, err) < 0)
    return sq_err_wrap (err, "map the sandbox's ids");
  return 0;
}

struct stream
{
  int fd;   /* read end, -1 when closed */
  int sink; /* caller's fd, -1 to discard */
  uint64_t *count;
};

struct supervisor
{
  struct sbx *b;
  int pidfd;
  struct stream out, err;
  uint64_t written; /* output bytes passed on, both streams */
  enum sbx_kill_reason killed;
  int sink_errno;
  int init_done;
};

static void
kill_job (struct supervisor *s, enum sbx_kill_reason why)
{
  if (s->killed != SBX_KILL_NONE || s->init_done)
    return;
  s->killed = why;
  syscall (SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

/* Reads what is available on one stream and passes it on, up to the cap. */
static void
pump (struct supervisor *s, struct stream *st)
{
  char buf[65536];
  ssize_t n = read (st->fd, buf, sizeof buf);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      close (st->fd);
      st->fd = -1;
      return;
    }
  *st->count += n;
  uint64_t cap = s->b->lim.output_bytes;
  size_t pass = n;
  if (s->written >= cap)
    pass = 0;
  else if (s->written + n > cap)
    pass = cap - s->written;
  s->written += pass;
  if (pass && st->sink >= 0 && !s->sink_errno && sq_write_all (st->sink, buf, pass) < 0)
    {
      s->sink_errno = errno;
      kill_job (s, SBX_KILL_SINK);
    }
  if (pass < (size_t) n)
    kill_job (s, SBX_KILL_OUTPUT);
}

static void
parse_reports (int fd, struct sbx_observed *o)
{
  char buf[4096];
  ssize_t n;
  size_t len = 0;

  while ((n = read (fd, buf + len, sizeof buf - 1 - len)) > 0)
    len += n;
  /* Records: REC_SETUP or REC_EXEC text run to the next record byte only
   * when followed by a status, which is always last and fixed-size. */
  if (len >= 1 + sizeof (int) && buf[len - 1 - sizeof (int)] == REC_STATUS)
    {
      memcpy (&o->wait_status, buf + len - sizeof (int), sizeof (int));
      o->have_status = 1;
      len -= 1 + sizeof (int);
    }
  buf[len] = '\0';
  if (len > 0 && buf[0] == REC_SETUP)
    {
      o->setup_failed = 1;
      snprintf (o->setup_error, sizeof o->setup_error, "%s", buf + 1);
    }
  else if (len > 0 && buf[0] == REC_EXEC)
    {
      o->exec_failed = 1;
      snprintf (o->exec_error, sizeof o->exec_error, "%s", buf + 1);
    }
}

static void
fail_result (struct sbx_result *res, sq_err *err)
{
  res->status = SQ_STATUS_SYSTEM_ERROR;
  res->exit_code = -1;
  snprintf (res->message, sizeof res->message,
            "sandq failed to run the "
            "program: %.400s",
            err ? err->msg : "unknown error");
}

/* The limits the job's cgroup enforces. */
static struct cg_limits
cg_limits_of (const struct sbx_limits *lim)
{
  return (struct cg_limits){
    .memory_bytes = lim->memory_bytes,
    .pids = lim->pids,
    .cpu_millicores = lim->cpu_millicores,
  };
}

/* Kills a started sandbox that will not run, and cleans up after it. */
void
sbx_abandon (struct sbx *b)
{
  if (!b->started)
    return;
  syscall (SYS_pidfd_send_signal, b->pidfd, SIGKILL, NULL, 0);
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
  cg_job_destroy (&b->host->cg, &b->job, NULL);
  int *fds[] = { &b->pidfd, &b->sync_wr, &b->rep_rd, &b->out_rd, &b->err_rd };
  for (size_t i = 0; i < SQ_ARRAY_SIZE (fds); i++)
    if (*fds[i] >= 0)
      {
        close (*fds[i]);
        *fds[i] = -1;
      }
  b->started = 0;
}

/* Where the calling thread was before stepping into the template. */
struct place
{
  int mnt, root, cwd;
};

/* Steps the calling thread into the template mount namespace, so that a
 * clone with CLONE_NEWNS copies it. The thread gets a file-system context
 * of its own first (mount namespaces are per fs context). */
static int
enter_template (int tfd, struct place *pl, sq_err *err)
{
  static __thread int own_fs;

  if (!own_fs && unshare (CLONE_FS) < 0)
    return sq_err_set (err, errno, "unshare the file-system context");
  own_fs = 1;
  pl->mnt = open ("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  pl->root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  pl->cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pl->mnt < 0 || pl->root < 0 || pl->cwd < 0 || setns (tfd, CLONE_NEWNS) < 0)
    {
      int e = errno;
      int *fds[] = { &pl->mnt, &pl->root, &pl->cwd };
      for (size_t i = 0; i < SQ_ARRAY_SIZE (fds); i++)
        if (*fds[i] >= 0)
          close (*fds[i]);
      return sq_err_set (err, e, "enter the sandbox's template namespace");
    }
  return 0;
}

/* And back: namespace, root and working directory as they were. */
static void
leave_template (struct place *pl)
{
  int e = errno;
  if (setns (pl->mnt, CLONE_NEWNS) < 0 || fchdir (pl->root) < 0 || chroot (".") < 0
      || fchdir (pl->cwd) < 0)
    abort (); /* never go on inside the template */
  close (pl->mnt);
  close (pl->root);
  close (pl->cwd);
  errno = e;
}

/* clone3 into the cgroup behind cgroup_fd, if there is one. A kernel
 * older than CLONE_INTO_CGROUP (5.7) gets a plain clone, and *attach tells
 * the caller to move the process by pid. */
static pid_t
clone_into_cgroup (struct clone_args *ca, int cgroup_fd, int *attach)
{
  pid_t pid;

  *attach = 0;
  if (cgroup_fd >= 0)
    {
      ca->flags |= CLONE_INTO_CGROUP;
      ca->cgroup = (uint64_t) cgroup_fd;
      pid = (pid_t) syscall (SYS_clone3, ca, sizeof *ca);
      if (pid >= 0 || (errno != E2BIG && errno != EINVAL))
        return pid;
      ca->flags &= ~(uint64_t) CLONE_INTO_CGROUP;
      ca->cgroup = 0;
      *attach = 1;
    }
  return (pid_t) syscall (SYS_clone3, ca, sizeof *ca);
}

int
sbx_start (struct sbx *b, int stdin_fd, sq_err *err)
{
  struct sbx_host *h = b->host;
  struct cg_limits cl = cg_limits_of (&b->lim);
  cleanup_close int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
  cleanup_close int out_rd = -1, out_wr = -1, err_rd = -1, err_wr = -1;
  cleanup_close int pidfd = -1;
  struct child_args a;
  struct clone_args ca;
  struct place pl;
  char name[32];
  int p[2], tfd, attach;
  pid_t pid;

  b->job.ndirs = 0;
  b->job.nentry = 0;
  /* A one-shot process builds the root in init itself: a template pays
   * off only over many runs. */
  tfd = h->cfg.one_shot ? -1 : sbx_template (h, err);
  if (tfd < 0 && !h->cfg.one_shot)
    return -1;
#define PIPE(r, w, flags)                                                                \
  do                                                                                     \
    {                                                                                    \
      if (pipe2 (p, O_CLOEXEC | (flags)) < 0)                                            \
        return sq_err_set (err, errno, "create pipes");                                  \
      r = p[0];                                                                          \
      w = p[1];                                                                          \
    }                                                                                    \
  while (0)
  /* The sync channel is a socket: the job goes over it with send() and
   * MSG_NOSIGNAL, so an init that died early is an error to report, not
   * a SIGPIPE for the caller. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
    return sq_err_set (err, errno, "create the sync socket");
  sync_rd = p[0];
  sync_wr = p[1];
  PIPE (rep_rd, rep_wr, 0);
  PIPE (out_rd, out_wr, 0);
  PIPE (err_rd, err_wr, 0);
#undef PIPE
  fcntl (out_rd, F_SETFL, O_NONBLOCK);
  fcntl (err_rd, F_SETFL, O_NONBLOCK);
  fcntl (rep_rd, F_SETFL, O_NONBLOCK);

  /* The job's cgroup comes first: init is born in it (v2) or steps into
   * it as its first act (v1), never moved by pid (see cgroup.h). */
  snprintf (name, sizeof name, "j%u", __atomic_add_fetch (&h->seq, 1, __ATOMIC_RELAXED));
  if (cg_job_create (&h->cg, &b->job, name, &cl, err) < 0)
    return -1;

  a = (struct child_args){
    .h = h,
    .b = b,
    .sync_rd = sync_rd,
    .report_wr = rep_wr,
    .in_fd = stdin_fd,
    .out_wr = out_wr,
    .err_wr = err_wr,
  };
  memset (&ca, 0, sizeof ca);
  ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
             | CLONE_PIDFD;
  ca.pidfd = (uint64_t) (uintptr_t) &pidfd;
  ca.exit_signal = SIGCHLD;
  /* A worker slot reuses its own network namespace: this thread steps
   * into it for the clone and straight back out. */
  int slot_ns = sbx_slot_netns_fd (h, b->slot), home_ns = -1;
  if (slot_ns >= 0)
    {
      home_ns = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (home_ns < 0 || setns (slot_ns, CLONE_NEWNET) < 0)
        {
          if (home_ns >= 0)
            close (home_ns);
          home_ns = -1;
          slot_ns = -1;
        }
    }
  if (slot_ns < 0)
    ca.flags |= CLONE_NEWNET;
  a.own_netns = slot_ns < 0;
  a.build_root = tfd < 0;
  if (tfd >= 0 && enter_template (tfd, &pl, err) < 0)
    pid = -2;
  else
    {
      pid = clone_into_cgroup (&ca, cg_job_clone_fd (&h->cg, &b->job), &attach);
      if (pid != 0 && tfd >= 0)
        leave_template (&pl);
    }
  if (pid != 0 && home_ns >= 0)
    {
      int e = errno;
      if (setns (home_ns, CLONE_NEWNET) < 0)
        abort (); /* never talk to Redis from the job's namespace */
      close (home_ns);
      errno = e;
    }
  if (pid == -2 || pid < 0)
    {
      int e = errno;
      cg_job_destroy (&h->cg, &b->job, NULL);
      if (pid == -2)
        return -1;
      return sq_err_set (err, e,
                         "clone the sandbox (user namespaces may be "
                         "disabled: see /proc/sys/user/max_user_namespaces)");
    }
  if (pid == 0)
    init_main (&a);

  close (sync_rd), sync_rd = -1;
  close (rep_wr), rep_wr = -1;
  close (out_wr), out_wr = -1;
  close (err_wr), err_wr = -1;
  cg_job_entered (&b->job);
  /* The id maps, then "g": init builds its root while sbx_run waits for
   * a job, and sbx_run's "c" brings it. Until "c" init runs only sandq's
   * code. */
  b->pidfd = steal_fd (&pidfd);
  b->sync_wr = steal_fd (&sync_wr);
  b->rep_rd = steal_fd (&rep_rd);
  b->out_rd = steal_fd (&out_rd);
  b->err_rd = steal_fd (&err_rd);
  b->started = 1;
  if ((attach && cg_job_attach (&h->cg, &b->job, pid, err) < 0)
      || write_id_map (pid, "uid_map", b->uid, err) < 0
      || write_id_map (pid, "gid_map", b->uid, err) < 0
      || sq_send_all (b->sync_wr, "g", 1) < 0)
    {
      sbx_abandon (b);
      return -1;
    }
  return 0;
}

/* Sends 'c' and the job: its limits, argv and envp. */
static int
send_job (struct sbx *b, const struct sbx_exec *ex, sq_err *err)
{
  char *const *envp = ex->envp ? ex->envp : sbx_default_env;
  struct job_header hdr = { .lim = b->lim };
  size_t size = 0;
  char *buf, *p;
  int r;

  for (; ex->argv[hdr.argc]; hdr.argc++)
    size += strlen (ex->argv[hdr.argc]) + 1;
  for (; envp[hdr.envc]; hdr.envc++)
    size += strlen (envp[hdr.envc]) + 1;
  if (size > SBX_JOB_MAX_BYTES || hdr.argc > SBX_JOB_MAX_ARGS
      || hdr.envc > SBX_JOB_MAX_ARGS)
    return sq_err_set (err, E2BIG,
                       "the command and environment exceed the sandbox's limit of "
                       "%d strings and %d KiB",
                       SBX_JOB_MAX_ARGS, SBX_JOB_MAX_BYTES >> 10);
  hdr.size = (uint32_t) size;
  buf = malloc (1 + sizeof hdr + size);
  if (!buf)
    return sq_err_set (err, ENOMEM, "the job for the sandbox");
  buf[0] = 'c';
  memcpy (buf + 1, &hdr, sizeof hdr);
  p = buf + 1 + sizeof hdr;
  for (uint32_t i = 0; i < hdr.argc + hdr.envc; i++)
    {
      const char *str = i < hdr.argc ? ex->argv[i] : envp[i - hdr.argc];
      size_t n = strlen (str) + 1;
      memcpy (p, str, n);
      p += n;
    }
  r = sq_send_all (b->sync_wr, buf, 1 + sizeof hdr + size);
  free (buf);
  if (r < 0)
    return sq_err_set (err, errno, "send the job to the sandbox");
  return 0;
}

int
sbx_run (struct sbx *b, const struct sbx_exec *ex, struct sbx_result *res, sq_err *err)
{
  struct sbx_host *h = b->host;
  struct sbx_observed obs;
  struct supervisor s;
  uint64_t start_us, deadline_ms, next_cpu_ms, drain_until = 0;

  memset (res, 0, sizeof *res);
  memset (&obs, 0, sizeof obs);
  if (b->ran)
    {
      sq_err_set (err, EINVAL, "a sandbox runs only once");
      fail_result (res, err);
      return -1;
    }
  b->ran = 1;
  if (!ex->argv || !ex->argv[0] || !ex->argv[0][0])
    {
      sq_err_set (err, EINVAL, "no command given");
      goto fail;
    }
  if (b->started && ex->stdin_fd >= 0)
    {
      sq_err_set (err, EINVAL, "a prewarmed sandbox reads its stdin from /dev/null");
      goto fail;
    }
  if (!b->started && sbx_start (b, ex->stdin_fd, err) < 0)
    goto fail;
  /* A prewarmed sandbox's cgroup was made with the default limits. */
  if (b->prewarmed)
    {
      struct cg_limits cl = cg_limits_of (&b->lim);
      if (cg_job_set_limits (&h->cg, &b->job, &cl, err) < 0)
        goto fail;
    }
  start_us = sq_now_us ();
  if (send_job (b, ex, err) < 0)
    {
      /* A closed pipe means init gave up building the sandbox: its
       * report says why. */
      waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
      parse_reports (b->rep_rd, &obs);
      if (obs.setup_failed)
        sq_err_set (err, 0, "%s", obs.setup_error);
      goto fail;
    }
  close (b->sync_wr), b->sync_wr = -1;

  memset (&s, 0, sizeof s);
  s.b = b;
  s.pidfd = b->pidfd;
  s.out = (struct stream){ b->out_rd, ex->stdout_fd, &res->stdout_bytes };
  s.err = (struct stream){ b->err_rd, ex->stderr_fd, &res->stderr_bytes };
  b->out_rd = b->err_rd = -1; /* owned by s now */
  deadline_ms = start_us / 1000 + b->lim.wall_ms;
  next_cpu_ms = start_us / 1000 + CPU_POLL_MS;

  while (!s.init_done || s.out.fd >= 0 || s.err.fd >= 0)
    {
      struct pollfd pf[4] = {
        { s.init_done ? -1 : b->pidfd, POLLIN, 0 },
        { s.out.fd, POLLIN, 0 },
        { s.err.fd, POLLIN, 0 },
        { s.init_done ? -1 : b->cancel_fd, POLLIN, 0 },
      };
      uint64_t now = sq_now_ms ();
      int64_t timeout;

      if (s.init_done)
        timeout = drain_until > now ? (int64_t) (drain_until - now) : 0;
      else
        {
          uint64_t next = deadline_ms < next_cpu_ms ? deadline_ms : next_cpu_ms;
          timeout = next > now ? (int64_t) (next - now) : 0;
        }
      int n = poll (pf, 4, (int) timeout);
      if (n < 0 && errno != EINTR)
        {
          sq_err_set (err, errno, "poll");
          kill_job (&s, SBX_KILL_SINK);
        }
      if (pf[1].revents)
        pump (&s, &s.out);
      if (pf[2].revents)
        pump (&s, &s.err);
      if (pf[3].revents & POLLIN)
        kill_job (&s, SBX_KILL_CANCEL);
      if (pf[0].revents & POLLIN)
        {
          s.init_done = 1;
          /* Everyone in the PID namespace is gone once init is; the pipes
           * will reach EOF at once, but never wait long for them. */
          drain_until = sq_now_ms () + 2000;
        }
      now = sq_now_ms ();
      if (s.init_done)
        {
          if (now >= drain_until)
            break;
          continue;
        }
      if (now >= deadline_ms)
        kill_job (&s, SBX_KILL_TIMEOUT);
      if (now >= next_cpu_ms)
        {
          uint64_t ns;
          if (cg_job_cpu_ns (&h->cg, &b->job, &ns) == 0 && ns / 1000000 >= b->lim.cpu_ms)
            kill_job (&s, SBX_KILL_CPU);
          next_cpu_ms = now + CPU_POLL_MS;
        }
    }
  if (s.out.fd >= 0)
    close (s.out.fd);
  if (s.err.fd >= 0)
    close (s.err.fd);
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
  res->wall_ms = (sq_now_us () - start_us + 500) / 1000;

  parse_reports (b->rep_rd, &obs);
  {
    struct cg_stats cs;
    struct statfs sf;
    cg_job_stats (&h->cg, &b->job, &cs);
    obs.oom_kills = cs.oom_kills;
    obs.pids_max_events = cs.pids_max_events;
    obs.cpu_ns = cs.cpu_ns;
    res->cpu_ms = cs.cpu_ns / 1000000;
    res->memory_peak_bytes = cs.memory_peak_bytes;
    if (fstatfs (b->scratch_fd, &sf) == 0)
      {
        uint64_t used = (uint64_t) (sf.f_blocks - sf.f_bfree) * sf.f_bsize;
        res->disk_bytes = used;
        /* "Full" leaves room for less than one more 64 KiB write. */
        obs.disk_full = (uint64_t) sf.f_bavail * sf.f_bsize < (64 << 10);
        obs.inodes_full = sf.f_ffree == 0;
      }
  }
  obs.killed = s.killed;
  sbx_decide (&obs, &b->lim, res);
  if (s.killed == SBX_KILL_SINK)
    snprintf (res->message, sizeof res->message,
              "sandq could not store the "
              "program's output: %s",
              strerror (s.sink_errno ? s.sink_errno : EIO));
  b->started = 0;
  close (b->pidfd), b->pidfd = -1;
  close (b->rep_rd), b->rep_rd = -1;
  if (cg_job_destroy (&h->cg, &b->job, err) < 0)
    {
      sq_err_log ("%s", err->msg);
      fail_result (res, err);
      return -1;
    }
  b->out_fd = openat (b->work_fd, "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (res->status == SQ_STATUS_SYSTEM_ERROR)
    {
      sq_err_set (err, 0, "%.400s", res->message);
      return -1;
    }
  return 0;

fail:
  sbx_abandon (b);
  fail_result (res, err);
  return -1;
}
