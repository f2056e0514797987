/* sandq-init: the sandbox's pid 1.
 *
 * The supervisor starts it in the sandbox's new namespaces (child.c) with the
 * fds of init_proto.h and the five capabilities it uses (see spawn_child
 * in child.c) as ambient ones, and tells it, in order:
 *
 *   'g' + init_config   the id maps are written: build the root
 *   'c' + job_header    the job: make ready for the program
 *   'r'                 its files are in place: start it
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
#include "init_program.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
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
      if (n == 0)
        errno = EIO; /* nothing written, and no errno to say why */
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
            init_report (report_fd, REC_STATUS, &st, sizeof st);
            /* Its last record: the supervisor may go on from here, not
             * waiting for this process's exit (sbx_settle_later). */
            close (report_fd);
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
      || got < 1 || got > n)
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

/* Reports why the sandbox could not be built, and gives up. */
static __attribute__ ((noreturn)) void
fail (const char *what, int e)
{
  init_report_text (INIT_FD_REPORT, REC_SETUP, what, e);
  _exit (INIT_EXIT_ABORT);
}

/* From 'g' to a root ready for a job: ids, hostname, loopback, the root,
 * the job's cgroup. */
static void
build_sandbox (void)
{
  char msg[400];
  char go;

  /* Wait until the supervisor has written the id maps. EOF means it gave
   * up. */
  if (read (INIT_FD_SYNC, &go, 1) != 1 || go != 'g'
      || read_full (INIT_FD_SYNC, &cfg, sizeof cfg) < 0 || cfg.magic != INIT_MAGIC)
    _exit (INIT_EXIT_ABORT);
  if (cfg.build_root && receive_plan (INIT_FD_SYNC) < 0)
    fail ("receive the rootfs plan", 0);
  if (syscall (SYS_setgroups, 0, NULL) < 0)
    fail ("clear supplementary groups", errno);
  /* Files made while building the root must belong to a mapped id. */
  syscall (SYS_setfsgid, SBX_INNER_ID);
  syscall (SYS_setfsuid, SBX_INNER_ID);
  /* The kernel clears the parent-death signal when the fsuid or fsgid
   * changes: arm it again, then make sure the supervisor did not die in
   * between (its end of the report pipe would be closed). */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct pollfd pf = { INIT_FD_REPORT, POLLOUT, 0 };
  if (poll (&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP)))
    _exit (INIT_EXIT_ABORT);
  if (cfg.own_netns && sbx_loopback_up () < 0)
    fail ("bring up the loopback device", errno);
  if (sethostname ("sandbox", 7) < 0)
    fail ("sethostname", errno);
  if ((cfg.build_root && sbx_template_build (steps, cfg.nsteps, 1, msg, sizeof msg) < 0)
      || sbx_rootfs_enter (INIT_FD_SCRATCH, !cfg.build_root, msg, sizeof msg) < 0)
    fail (msg, 0);
  if (cfg.join_fds && join_cgroup (cfg.join_fds) < 0)
    fail ("enter the job's cgroup", errno);
}

/* From 'c' to everything the program inherits but its own process: the
 * job, its /etc/hosts, the cgroup namespace, the seccomp filter, the
 * emptied bounding set. Returns the program's stdin. */
static int
take_job (void)
{
  /* Nothing of the program runs before the supervisor says so. The job's
   * cgroup (entered before the exec, or in build_sandbox, see run.c)
   * becomes the root of our cgroup namespace. */
  if (receive_job (INIT_FD_SYNC) < 0)
    fail ("receive the job", 0);
  if ((job_in.hdr.flags & JOBF_HOSTS) && bind_hosts () < 0)
    fail ("bind the job's /etc/hosts", errno);
  close (INIT_FD_SCRATCH);
  if (unshare (CLONE_NEWCGROUP) < 0)
    fail ("unshare the cgroup namespace", errno);
  int in_fd = stdin_fd >= 0 ? stdin_fd : open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0)
    fail ("open /dev/null", errno);
  /* The filter is loaded once, here, and the program inherits it. It
   * denies nothing that init or the program still do before execve. */
  struct sbx_seccomp sc;
  sbx_seccomp_builtin (&sc, SBX_POLICY_SANDBOX);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sbx_seccomp_load (&sc) < 0)
    fail ("load the seccomp filter", errno);
  /* The bounding set goes before the program starts, once for both:
   * dropping from it needs CAP_SETPCAP, and leaves the other sets alone. */
  if (init_drop_bounding (cfg.cap_last) < 0)
    fail ("drop the bounding set", errno);
  /* Ready: the program starts at 'r', once the caller has the job's
   * files in place (sbx_stage). EOF: it gave up. */
  char go;
  if (read (INIT_FD_SYNC, &go, 1) != 1 || go != 'r')
    _exit (INIT_EXIT_ABORT);
  close (INIT_FD_SYNC);
  return in_fd;
}

int
main (void)
{
  static const int keep[] = { INIT_FD_SYNC, INIT_FD_REPORT, INIT_FD_SCRATCH };
  struct prog_start ps;
  pid_t prog;

  /* If the supervisor dies, the whole sandbox dies with it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  init_reset_signals ();
  /* Nor does the program inherit the caller's umask (a service's
   * UMask=0077 would leave out/ files unreadable to anyone else once
   * extracted). */
  umask (022);
  init_close_all_except (keep, 3);
  build_sandbox ();
  ps = (struct prog_start){
    .in_fd = take_job (),
    .out_fd = pipe_wr[0],
    .err_fd = pipe_wr[1],
    .report_fd = INIT_FD_REPORT,
    .lim = &job_in.hdr.lim,
    .argv = job_in.argv,
    .envp = job_in.envp,
  };
  prog = init_start_program (&ps);
  if (prog < 0)
    fail ("start the program", errno);
  close (ps.in_fd);
  close (pipe_wr[0]);
  close (pipe_wr[1]);
  /* init keeps nothing it does not need: no capabilities (the bounding
   * and ambient sets went above), no new privs, the same seccomp filter.
   * As pid 1 it ignores signals from inside that it has no handler for;
   * its SIGCHLD handler only wakes it, and the program (another uid, no
   * capabilities) cannot signal it anyway. */
  init_clear_caps ();
  supervise (prog, INIT_FD_REPORT);
}
