/* sandq-init: the sandbox's pid 1.
 *
 * The supervisor starts it in the sandbox's new namespaces (run.c) with the
 * fds of init_proto.h and the five capabilities it uses (see spawn_child
 * in run.c) as ambient ones, and tells it, in order:
 *
 *   'g' + init_config   the id maps are written: build the root
 *   'c' + job_header    the job: start the program
 *
 * init then starts the program (uid 1000 inside, no capabilities,
 * no_new_privs, seccomp, rlimits), passes its stdout and stderr on to the
 * caller's sinks up to the output limit, reaps every process, and when the
 * program ends reports its wait status and exits; the kernel then kills
 * whatever else lives in the PID namespace. Raw syscalls for the uid and
 * group calls, so that nothing depends on how a libc applies them.
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fdpass.h"
#include "../common/util.h"

static struct init_config cfg;

/* The job, in fixed buffers. */
static struct
{
  struct job_header hdr;
  char strings[SBX_JOB_MAX_BYTES];
  char *argv[SBX_JOB_MAX_ARGS + 1];
  char *envp[SBX_JOB_MAX_ARGS + 1];
} job_in;

/* The rootfs plan, with build_root. */
static char plan_buf[INIT_PLAN_MAX];
static struct rootfs_step steps[SBX_MAX_STEPS];

/* The program's output: the read ends of its stdout and stderr pipes (-1
 * once at EOF), where it goes (-1: counted, not kept), and the page the
 * supervisor reads (init_proto.h). */
static int pipe_rd[2] = { -1, -1 }, pipe_wr[2] = { -1, -1 };
static int sink[2] = { -1, -1 };
static int stdin_fd = -1; /* the caller's, if it gave one */
static volatile struct init_output *output;
static char pump_buf[64 << 10];

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
    /* Queued signals and POSIX timers are counted per user at every user
     * namespace level, and the sandbox's namespace belongs to the host's
     * root: without a cap of its own a job's timers took all of root's
     * RLIMIT_SIGPENDING, and root's timer_create failed. */
    { RLIMIT_SIGPENDING, SBX_SIGPENDING_MAX, SBX_SIGPENDING_MAX },
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

/* The program starts with every signal at its default action and none
 * blocked, whatever its caller had: both survive execve. The library's own
 * threads block every signal, and the CLI and the worker ignore SIGPIPE;
 * a program that inherited a blocked SIGCHLD waited forever in
 * `sh -c 'sleep 1 & wait'`. init resets its own, first thing (while the
 * supervisor writes the id maps), and the program inherits them; init's
 * own SIGCHLD handler and ignored SIGPIPE come after the program has
 * started (see supervise). Raw syscalls, so that the signals musl keeps
 * for itself are reset too. */
static void
reset_signals (void)
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
program_main (int in_fd, const struct job_header *job, int report_fd)
{
  if (dup2 (in_fd, 0) < 0 || dup2 (pipe_wr[0], 1) < 0 || dup2 (pipe_wr[1], 2) < 0)
    {
      report_text (report_fd, REC_SETUP, "dup2 stdio", errno);
      _exit (127);
    }
  {
    int keep[] = { 0, 1, 2, report_fd };
    close_all_except (keep, 4);
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
        report_text (report_fd, REC_SETUP, "clear close-on-exec on stdio", errno);
        _exit (127);
      }
  if (fcntl (report_fd, F_SETFD, FD_CLOEXEC) < 0)
    {
      report_text (report_fd, REC_SETUP, "mark the report pipe close-on-exec", errno);
      _exit (127);
    }
  if (set_limits (&job->lim) < 0)
    {
      report_text (report_fd, REC_SETUP, "setrlimit", errno);
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
  int in_fd;
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

/* The job's own /etc/hosts (JOBF_HOSTS), from the scratch disk's root,
 * read-only; the mount keeps the scratch disk's nosuid and nodev, which
 * the kernel has locked. */
static int
bind_hosts (void)
{
  char src[64];

  snprintf (src, sizeof src, "/proc/self/fd/%d/hosts", INIT_FD_SCRATCH);
  if (mount (src, "/etc/hosts", NULL, MS_BIND, NULL) < 0)
    return -1;
  return mount (NULL, "/etc/hosts", NULL,
                MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                NULL);
}

/* Receives 'c', its fds and the job into job_in, maps the output page and
 * makes the program's pipes; 0 on success. */
static int
receive_job (int fd)
{
  struct job_header *h = &job_in.hdr;
  char *p, *end, kind;
  int fds[JOB_MAX_FDS], got, want;
  void *page;

  if (fdpass_recv (fd, &kind, 1, fds, JOB_MAX_FDS, &got, 0) != 1)
    return -1;
  if (kind != 'c' || read_full (fd, h, sizeof *h) < 0)
    goto bad;
  want = 1 + !!(h->fds & JOB_STDIN) + !!(h->fds & JOB_STDOUT) + !!(h->fds & JOB_STDERR);
  if (got != want || h->size > SBX_JOB_MAX_BYTES || h->argc < 1
      || h->argc > SBX_JOB_MAX_ARGS || h->envc > SBX_JOB_MAX_ARGS
      || read_full (fd, job_in.strings, h->size) < 0)
    goto bad;
  page = mmap (NULL, sizeof (struct init_output), PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[0], 0);
  if (page == MAP_FAILED)
    goto bad;
  output = page;
  close (fds[0]);
  got = 1;
  if (h->fds & JOB_STDIN)
    stdin_fd = fds[got++];
  if (h->fds & JOB_STDOUT)
    sink[0] = fds[got++];
  if (h->fds & JOB_STDERR)
    sink[1] = fds[got++];
  for (int i = 0; i < 2; i++)
    {
      int pp[2];
      if (pipe2 (pp, O_CLOEXEC) < 0)
        return -1;
      pipe_rd[i] = pp[0];
      pipe_wr[i] = pp[1];
    }
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

bad:
  for (int i = 0; i < got; i++)
    close (fds[i]);
  return -1;
}

/* Writes to a sink, counting what got through; -1 with errno. */
static int
sink_write (int i, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (sink[i], buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      output->bytes[i] += (uint64_t) n;
      buf += n;
      len -= (size_t) n;
    }
  return 0;
}

/* Reads what stream i has and passes it on, up to the output limit.
 * Returns -1 when the job must end (limit reached, or a sink failed), 1
 * when the read got nothing more, 0 otherwise. */
static int
pump (int i)
{
  ssize_t n = read (pipe_rd[i], pump_buf, sizeof pump_buf);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 1;
  if (n <= 0)
    {
      close (pipe_rd[i]);
      pipe_rd[i] = -1;
      return 1;
    }
  uint64_t used = output->bytes[0] + output->bytes[1], cap = job_in.hdr.lim.output_bytes;
  size_t pass = used >= cap                 ? 0
                : cap - used < (uint64_t) n ? (size_t) (cap - used)
                                            : (size_t) n;
  if (sink[i] < 0)
    output->bytes[i] += pass;
  else if (pass && sink_write (i, pump_buf, pass) < 0)
    {
      output->sink_errno = errno ? errno : EIO;
      return -1;
    }
  if (pass < (size_t) n)
    {
      output->capped = 1;
      return -1;
    }
  return 0;
}

static void
on_chld (int sig)
{
  (void) sig; /* only to end ppoll */
}

/* Passes the output on and reaps every process until the program ends;
 * then takes what is left in the pipes (what its last writes put there),
 * reports its wait status and exits, and the kernel kills the rest of
 * the namespace. Ends the job at once when the output limit is reached
 * or a sink fails (the page says which). */
static __attribute__ ((noreturn)) void
supervise (pid_t prog, int report_fd)
{
  sigset_t chld, none;
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigemptyset (&none);
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_BLOCK, &chld, NULL);
  sigaction (SIGCHLD, &sa, NULL);
  /* A sink whose reader went away (the CLI's stdout piped into head) is
   * an error to report, not a death without one. */
  signal (SIGPIPE, SIG_IGN);
  for (int i = 0; i < 2; i++)
    fcntl (pipe_rd[i], F_SETFL, O_NONBLOCK);
  for (;;)
    {
      int st;
      pid_t w;
      while ((w = waitpid (-1, &st, WNOHANG)) > 0)
        if (w == prog)
          {
            /* At most a few pipe buffers more: a process left behind
             * may go on writing. */
            for (int i = 0; i < 2; i++)
              for (int k = 0; k < 16 && pipe_rd[i] >= 0; k++)
                {
                  int r = pump (i);
                  if (r < 0)
                    _exit (0);
                  if (r > 0)
                    break;
                }
            report (report_fd, REC_STATUS, &st, sizeof st);
            _exit (0);
          }
      if (w < 0 && errno != EINTR && errno != ECHILD)
        _exit (INIT_EXIT_ABORT);
      struct pollfd pf[2] = { { pipe_rd[0], POLLIN, 0 }, { pipe_rd[1], POLLIN, 0 } };
      if (ppoll (pf, 2, NULL, &none) < 0)
        continue; /* EINTR: a child changed state */
      for (int i = 0; i < 2; i++)
        if (pf[i].revents && pump (i) < 0)
          _exit (0);
    }
}

/* Receives 'j' and the job's cgroup entry files, and enters them. */
static int
join_cgroup (int n)
{
  char kind;
  int fds[FDPASS_MAX], got, r = 0;

  if (fdpass_recv (INIT_FD_SYNC, &kind, 1, fds, FDPASS_MAX, &got, 0) != 1 || kind != 'j'
      || got != n)
    {
      errno = EPROTO;
      r = -1;
    }
  for (int i = 0; i < got; i++)
    {
      if (r == 0 && write (fds[i], "0", 1) != 1)
        r = -1;
      close (fds[i]);
    }
  return r;
}

static int
program_entry (void *arg)
{
  const struct prog_start *ps = arg;
  program_main (ps->in_fd, &job_in.hdr, ps->report_fd);
}

/* The program's stack between clone and execve. It lies in init's
 * memory, which the program shares (CLONE_VM) while init waits. */
static char prog_stack[64 * 1024] __attribute__ ((aligned (64)));

/* Reads the plan that follows the config into steps[]; 0 on success. */
static int
receive_plan (int fd)
{
  char *p = plan_buf, *end = plan_buf + cfg.plan_size;

  if (cfg.nsteps > SBX_MAX_STEPS || cfg.plan_size > sizeof plan_buf
      || read_full (fd, plan_buf, cfg.plan_size) < 0)
    return -1;
  for (uint32_t i = 0; i < cfg.nsteps; i++)
    {
      struct rootfs_step *s = &steps[i];
      char *nul;

      if (end - p < 2)
        return -1;
      s->op = (enum rootfs_op) p[0];
      s->is_dir = p[1];
      p += 2;
      for (int k = 0; k < 2; k++)
        {
          nul = memchr (p, '\0', end - p);
          if (!nul)
            return -1;
          if (k == 0)
            s->src = p;
          else
            s->dst = p;
          p = nul + 1;
        }
    }
  return 0;
}

int
main (void)
{
  char msg[400];
  char go;
  pid_t prog;
  int in_fd = -1;
  const int report_fd = INIT_FD_REPORT;

  /* If the supervisor dies, the whole sandbox dies with it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  reset_signals ();
  /* Nor does the program inherit the caller's umask (a service's
   * UMask=0077 would leave out/ files unreadable to anyone else once
   * extracted). */
  umask (022);
  {
    int keep[] = { INIT_FD_SYNC, INIT_FD_REPORT, INIT_FD_SCRATCH };
    close_all_except (keep, 3);
  }
  /* Wait until the supervisor has written the id maps. EOF means it gave
   * up. */
  if (read (INIT_FD_SYNC, &go, 1) != 1 || go != 'g'
      || read_full (INIT_FD_SYNC, &cfg, sizeof cfg) < 0 || cfg.magic != INIT_MAGIC)
    _exit (INIT_EXIT_ABORT);
  if (cfg.build_root && receive_plan (INIT_FD_SYNC) < 0)
    {
      report_text (report_fd, REC_SETUP, "receive the rootfs plan", 0);
      _exit (INIT_EXIT_ABORT);
    }

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
  if (cfg.own_netns && sbx_loopback_up () < 0)
    {
      report_text (report_fd, REC_SETUP, "bring up the loopback device", errno);
      _exit (INIT_EXIT_ABORT);
    }
  if (sethostname ("sandbox", 7) < 0)
    {
      report_text (report_fd, REC_SETUP, "sethostname", errno);
      _exit (INIT_EXIT_ABORT);
    }
  if ((cfg.build_root && sbx_template_build (steps, cfg.nsteps, 1, msg, sizeof msg) < 0)
      || sbx_rootfs_enter (INIT_FD_SCRATCH, !cfg.build_root, msg, sizeof msg) < 0)
    {
      report_text (report_fd, REC_SETUP, msg, 0);
      _exit (INIT_EXIT_ABORT);
    }
  if (cfg.join_fds && join_cgroup (cfg.join_fds) < 0)
    {
      report_text (report_fd, REC_SETUP, "enter the job's cgroup", errno);
      _exit (INIT_EXIT_ABORT);
    }

  /* Nothing of the program runs before the supervisor says so. The job's
   * cgroup (entered before the exec, or just above, see run.c) becomes
   * the root of our cgroup namespace. */
  if (receive_job (INIT_FD_SYNC) < 0)
    {
      report_text (report_fd, REC_SETUP, "receive the job", 0);
      _exit (INIT_EXIT_ABORT);
    }
  close (INIT_FD_SYNC);
  if ((job_in.hdr.flags & JOBF_HOSTS) && bind_hosts () < 0)
    {
      report_text (report_fd, REC_SETUP, "bind the job's /etc/hosts", errno);
      _exit (INIT_EXIT_ABORT);
    }
  close (INIT_FD_SCRATCH);
  if (unshare (CLONE_NEWCGROUP) < 0)
    {
      report_text (report_fd, REC_SETUP, "unshare the cgroup namespace", errno);
      _exit (INIT_EXIT_ABORT);
    }

  in_fd = stdin_fd;
  if (in_fd < 0)
    {
      in_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (in_fd < 0)
        {
          report_text (report_fd, REC_SETUP, "open /dev/null", errno);
          _exit (INIT_EXIT_ABORT);
        }
    }
  /* The filter is loaded once, here, and the program inherits it. It
   * denies nothing that init or the program still do before execve. */
  struct sbx_seccomp sc;
  sbx_seccomp_builtin (&sc, SBX_POLICY_SANDBOX);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sbx_seccomp_load (&sc) < 0)
    {
      report_text (report_fd, REC_SETUP, "load the seccomp filter", errno);
      _exit (INIT_EXIT_ABORT);
    }
  /* The bounding set goes before the program starts, once for both:
   * dropping from it needs CAP_SETPCAP, and leaves the other sets alone. */
  if (drop_bounding (cfg.cap_last) < 0)
    {
      report_text (report_fd, REC_SETUP, "drop the bounding set", errno);
      _exit (INIT_EXIT_ABORT);
    }
  /* vfork-style: the program borrows init's memory until its execve, so
   * no page tables are copied, and init sleeps until then. */
  struct prog_start ps = { in_fd, report_fd };
  prog = clone (program_entry, prog_stack + sizeof prog_stack,
                CLONE_VM | CLONE_VFORK | SIGCHLD, &ps);
  if (prog < 0)
    {
      report_text (report_fd, REC_SETUP, "start the program", errno);
      _exit (INIT_EXIT_ABORT);
    }

  close (in_fd);
  close (pipe_wr[0]);
  close (pipe_wr[1]);
  /* init keeps nothing it does not need: no capabilities (the bounding
   * and ambient sets went above), no new privs, the same seccomp filter.
   * As pid 1 it ignores signals from inside that it has no handler for;
   * its SIGCHLD handler only wakes it, and the program (another uid, no
   * capabilities) cannot signal it anyway. */
  clear_caps ();
  supervise (prog, report_fd);
}
