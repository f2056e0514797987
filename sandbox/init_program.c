/* The program's side of sandq-init: from init's clone of it to its
 * execve (stdio, rlimits, ids, capabilities, the PATH search), and the
 * report records both sides write. Linked into sandq-init only. */
#define _GNU_SOURCE
#include "init_proto.h"
#include "init_program.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/util.h"

void
init_report (int fd, char kind, const void *data, size_t len)
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

void
init_report_text (int fd, char kind, const char *what, int e)
{
  char msg[400];
  if (e)
    snprintf (msg, sizeof msg, "%s: %s", what, strerror (e));
  else
    snprintf (msg, sizeof msg, "%s", what);
  init_report (fd, kind, msg, strlen (msg));
}

/* Closes every fd except those in keep (unsorted, -1 entries ignored). */
void
init_close_all_except (const int *keep, int n)
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
int
init_drop_bounding (int cap_last)
{
  for (int c = 0; c <= cap_last; c++)
    if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return -1;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return -1;
  return 0;
}

/* Empties the effective, permitted and inheritable sets. */
int
init_clear_caps (void)
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
    /* Queued signals and POSIX timers are counted per user at every user
     * namespace level, and the sandbox's namespace belongs to the host's
     * root: without a cap of its own a job's timers took all of root's
     * RLIMIT_SIGPENDING, and root's timer_create failed. */
    { RLIMIT_SIGPENDING, SBX_SIGPENDING_MAX, SBX_SIGPENDING_MAX },
  };
  /* The rest are not the caller's to pass on either (a shell's
   * `ulimit -v`, a tiny or unlimited stack): every program starts with the
   * usual 8 MiB stack and no address-space, data or priority cap of its
   * own, its memory cap being the cgroup's. A soft limit can go up only
   * to the hard one, which a user namespace cannot raise. */
  static const struct
  {
    int res;
    rlim_t soft;
  } usual[] = {
    { RLIMIT_STACK, 8 << 20 },
    { RLIMIT_AS, RLIM_INFINITY },
    { RLIMIT_DATA, RLIM_INFINITY },
    { RLIMIT_RSS, RLIM_INFINITY },
    { RLIMIT_NICE, 0 },
    { RLIMIT_RTPRIO, 0 },
  };

  for (size_t i = 0; i < SQ_ARRAY_SIZE (r); i++)
    {
      struct rlimit rl = { r[i].soft, r[i].hard };
      if (setrlimit (r[i].res, &rl) < 0)
        return -1;
    }
  for (size_t i = 0; i < SQ_ARRAY_SIZE (usual); i++)
    {
      struct rlimit rl;
      if (getrlimit (usual[i].res, &rl) < 0)
        return -1;
      rl.rlim_cur = usual[i].soft;
      if (usual[i].soft == 0)
        rl.rlim_max = 0;
      else if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
      if (setrlimit (usual[i].res, &rl) < 0)
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
      init_report_text (report_fd, REC_EXEC, msg, 0);
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
              init_report_text (report_fd, REC_EXEC, msg, 0);
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
  init_report_text (report_fd, REC_EXEC, msg, 0);
}

/* The program starts with every signal at its default action and none
 * blocked, whatever its caller had: both survive execve. The library's own
 * threads block every signal, and the CLI and the worker ignore SIGPIPE;
 * a program that inherited a blocked SIGCHLD waited forever in
 * `sh -c 'sleep 1 & wait'`. init resets its own, first thing (while the
 * supervisor writes the id maps), and the program inherits them; init's
 * own SIGCHLD handler and ignored SIGPIPE come after the program has
 * started (see supervise). Raw syscalls, so that the signals musl keeps
 * for itself are reset too. */
void
init_reset_signals (void)
{
  struct
  {
    unsigned long handler, flags, restorer, mask;
  } dfl = { 0 }; /* SIG_DFL */
  unsigned long none = 0;

  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      syscall (SYS_rt_sigaction, sig, &dfl, NULL, sizeof none);
  syscall (SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

static __attribute__ ((noreturn)) void
program_main (const struct prog_start *ps)
{
  const int report_fd = ps->report_fd;

  if (dup2 (ps->in_fd, 0) < 0 || dup2 (ps->out_fd, 1) < 0 || dup2 (ps->err_fd, 2) < 0)
    {
      init_report_text (report_fd, REC_SETUP, "dup2 stdio", errno);
      _exit (127);
    }
  {
    int keep[] = { 0, 1, 2, report_fd };
    init_close_all_except (keep, 4);
  }
  /* The program gets 0, 1 and 2, and nothing else. dup2 onto itself
   * keeps the close-on-exec flag: /dev/null, opened by init when its fd 0
   * was free, would have closed at the execve and left the program
   * without a stdin. The report pipe stays open only for the execve's
   * failure: a program that kept it could write records of its own (a
   * wait status the supervisor would take for the real one), or fill it
   * so that init blocked on the real one until the wall limit. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl (fd, F_SETFD, 0) < 0)
      {
        init_report_text (report_fd, REC_SETUP, "clear close-on-exec on stdio", errno);
        _exit (127);
      }
  if (fcntl (report_fd, F_SETFD, FD_CLOEXEC) < 0)
    {
      init_report_text (report_fd, REC_SETUP, "mark the report pipe close-on-exec",
                        errno);
      _exit (127);
    }
  if (set_limits (ps->lim) < 0)
    {
      init_report_text (report_fd, REC_SETUP, "setrlimit", errno);
      _exit (127);
    }
  /* Nor is the caller's personality the job's: under `setarch -R` every
   * job would run without address-space randomisation. */
  if (personality (PER_LINUX) < 0)
    {
      init_report_text (report_fd, REC_SETUP, "personality", errno);
      _exit (127);
    }
  /* The bounding set is empty already (init emptied it, and it is
   * inherited). setresuid needs CAP_SETUID, so it comes before the capset
   * that empties every other set (the ambient one with them). no_new_privs
   * then keeps file capabilities and setuid bits from giving any back at
   * execve. */
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0
      || syscall (SYS_setresgid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0
      || syscall (SYS_setresuid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0
      || init_clear_caps () < 0 || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      init_report_text (report_fd, REC_SETUP, "drop privileges", errno);
      _exit (127);
    }
  /* The seccomp filter came from init (see there). */
  if (chdir ("/work") < 0)
    {
      init_report_text (report_fd, REC_SETUP, "chdir /work", errno);
      _exit (127);
    }
  exec_in_path (ps->argv, ps->envp, report_fd);
  _exit (127);
}

static int
program_entry (void *arg)
{
  program_main (arg);
}

/* The program's stack between clone and execve. It lies in init's
 * memory, which the program shares (CLONE_VM) while init waits. */
static char prog_stack[64 * 1024] __attribute__ ((aligned (64)));

pid_t
init_start_program (const struct prog_start *ps)
{
  /* vfork-style: the program borrows init's memory until its execve, so
   * no page tables are copied, and init sleeps until then. */
  return clone (program_entry, prog_stack + sizeof prog_stack,
                CLONE_VM | CLONE_VFORK | SIGCHLD, (void *) ps);
}
