/* A sandbox's start: clone init into fresh namespaces (child.c), give it
 * its id maps, configuration and cgroup, and later its job.
 *
 * The process tree of a run:
 *
 *   supervisor (caller's thread)
 *     └─ init (init.c): pid 1 of new user, pid, mount, net, ipc, uts and
 *        cgroup namespaces; builds the root, then waits for the program
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
 * How init starts is in init_proto.h and child.c; the run itself, from
 * the job sent to the verdict, in supervise.c.
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"
#include "verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/socket.h>

#include "../common/cleanup.h"
#include "../common/fdpass.h"
#include "../common/log.h"
#include "../common/util.h"

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

void
sbx_kill_init (struct sbx *b)
{
  syscall (SYS_pidfd_send_signal, b->pidfd, SIGKILL, NULL, 0);
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
}

/* Kills a started sandbox that will not run, and cleans up after it. */
void
sbx_abandon (struct sbx *b)
{
  if (!b->started)
    return;
  sbx_kill_init (b);
  cg_job_destroy (&b->host->cg, &b->job, NULL);
  int *fds[] = { &b->pidfd, &b->sync_wr, &b->rep_rd };
  for (size_t i = 0; i < SQ_ARRAY_SIZE (fds); i++)
    if (*fds[i] >= 0)
      {
        close (*fds[i]);
        *fds[i] = -1;
      }
  b->started = 0;
}

/* 'g' and init's configuration, after the id maps are written. */
static int
send_config (struct sbx *b, const struct init_config *ic, sq_err *err)
{
  struct sbx_host *h = b->host;
  size_t plan = ic->build_root ? h->plan_size : 0;
  size_t len = 1 + sizeof *ic + plan;
  char *buf = malloc (len);
  int r;

  if (!buf)
    return sq_err_set (err, ENOMEM, "init's configuration");
  buf[0] = 'g';
  memcpy (buf + 1, ic, sizeof *ic);
  if (plan)
    memcpy (buf + 1 + sizeof *ic, h->plan, plan);
  r = sq_send_all (b->sync_wr, buf, len);
  free (buf);
  if (r < 0)
    return sq_err_set (err, errno, "configure the sandbox's init");
  return 0;
}

/* Makes the job's v1 cgroups while init builds its root, and sends init
 * their entry files with 'j' (see init_proto.h). */
static int
send_cgroup (struct sbx *b, const char *name, const struct cg_limits *cl, sq_err *err)
{
  if (sbx_host_cgroups (b->host, err) < 0
      || cg_job_create (&b->host->cg, &b->job, name, cl, err) < 0)
    return -1;
  if (b->job.nentry < 1 || b->job.nentry > FDPASS_MAX)
    return sq_err_set (err, EINVAL, "the job has %d cgroups to enter", b->job.nentry);
  if (fdpass_send (b->sync_wr, "j", 1, b->job.entry_fd, b->job.nentry) < 0)
    return sq_err_set (err, errno, "send the sandbox's init its cgroup");
  cg_job_entered (&b->job);
  return 0;
}

/* The supervisor's channels to a new init: the sync socket (the job goes
 * over it with send() and MSG_NOSIGNAL, so an init that died early is an
 * error to report, not a SIGPIPE for the caller) and the report pipe,
 * whose read end does not block. */
static int
open_channels (int *sync_rd, int *sync_wr, int *rep_rd, int *rep_wr, sq_err *err)
{
  int p[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
    return sq_err_set (err, errno, "create the sync socket");
  *sync_rd = p[0];
  *sync_wr = p[1];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return sq_err_set (err, errno, "create the report pipe");
  *rep_rd = p[0];
  *rep_wr = p[1];
  fcntl (*rep_rd, F_SETFL, O_NONBLOCK);
  return 0;
}

int
sbx_start (struct sbx *b, sq_err *err)
{
  struct sbx_host *h = b->host;
  struct cg_limits cl = cg_limits_of (&b->lim);
  cleanup_close int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
  cleanup_close int pidfd = -1;
  struct init_config ic;
  struct sbx_spawn sp;
  char name[32];
  int tfd, attach = 0;
  pid_t pid;

  b->job.ndirs = 0;
  b->job.nentry = 0;
  /* A one-shot process builds the root in init itself: a template pays
   * off only over many runs. */
  tfd = h->cfg.one_shot ? -1 : sbx_template (h, err);
  if ((tfd < 0 && !h->cfg.one_shot)
      || open_channels (&sync_rd, &sync_wr, &rep_rd, &rep_wr, err) < 0)
    return -1;

  /* init is never moved into the job's cgroup by pid (see cgroup.h): it
   * is born in it (v2), steps into it before its execve (v1), or, in a
   * one-shot process on v1, steps into it once the supervisor has made
   * it beside init's own set-up (send_cgroup): making the host's and the
   * job's cgroups, eight directories, is about half a millisecond that
   * the start then need not wait for. (On v2 the cgroup must exist for
   * the clone.) */
  int late_cgroup = sbx_cgroup_late (h);
  snprintf (name, sizeof name, "j%u", __atomic_add_fetch (&h->seq, 1, __ATOMIC_RELAXED));
  if (!late_cgroup && cg_job_create (&h->cg, &b->job, name, &cl, err) < 0)
    return -1;
  b->job_limits = cl;

  sp = (struct sbx_spawn){
    .job = &b->job,
    .src = { sync_rd, rep_wr, b->scratch_fd },
    .init_fd = h->init_fd,
  };
  /* A process that runs one sandbox (the CLI) takes the namespace its
   * prefetch thread made beside the set-up. Every other sandbox gets a
   * fresh one with the clone (for a worker's prewarmed sandbox, off the
   * job's path): a namespace outlives its processes in what the kernel
   * keeps for it (TIME_WAIT sockets with their addresses and ports, for a
   * minute), so one reused across jobs would show a job the one before
   * it. */
  int netns = h->cfg.one_shot ? sbx_slot_netns_fd (h, b->slot) : -1;
  pid = sbx_spawn_init (&sp, tfd, &netns,
                        CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
                            | CLONE_NEWUTS,
                        cg_job_clone_fd (&h->cg, &b->job), &pidfd, &attach, err);
  if (pid > 0 && sp.err)
    {
      /* It failed before its execve, and has exited. */
      waitid (P_PIDFD, pidfd, NULL, WEXITED);
      sq_err_set (err, sp.err, "start the sandbox: %s", sp.what);
    }
  if (pid < 0 || sp.err)
    {
      cg_job_destroy (&h->cg, &b->job, NULL);
      return -1;
    }

  close (sync_rd), sync_rd = -1;
  close (rep_wr), rep_wr = -1;
  cg_job_entered (&b->job);
  /* The id maps, then "g": init builds its root while sbx_run waits for
   * a job, and sbx_run's "c" brings it. Until "c" init runs only sandq's
   * code. */
  b->pidfd = steal_fd (&pidfd);
  b->init_pid = pid;
  b->sync_wr = steal_fd (&sync_wr);
  b->rep_rd = steal_fd (&rep_rd);
  b->started = 1;
  ic = (struct init_config){
    .magic = INIT_MAGIC,
    .own_netns = netns < 0,
    .join_fds = late_cgroup ? CG_NCTRL : 0,
    .build_root = tfd < 0,
    .cap_last = h->cap_last,
    .nsteps = tfd < 0 ? h->nsteps : 0,
    .plan_size = tfd < 0 ? (uint32_t) h->plan_size : 0,
  };
  if ((attach && cg_job_attach (&h->cg, &b->job, pid, err) < 0)
      || sbx_setup_init_proc (pid, b->uid, err) < 0 || send_config (b, &ic, err) < 0
      || (late_cgroup && send_cgroup (b, name, &cl, err) < 0))
    {
      sbx_abandon (b);
      return -1;
    }
  return 0;
}

int
sbx_job_limits (struct sbx *b, sq_err *err)
{
  struct cg_limits cl = cg_limits_of (&b->lim);

  if (cl.memory_bytes == b->job_limits.memory_bytes && cl.pids == b->job_limits.pids
      && cl.cpu_millicores == b->job_limits.cpu_millicores)
    return 0;
  if (cg_job_set_limits (&b->host->cg, &b->job, &cl, err) < 0)
    return -1;
  b->job_limits = cl;
  return 0;
}

/* Counts ex's strings and their bytes (with their NULs); -1 and err if
 * they are more than init takes. */
static int
exec_size (const struct sbx_exec *ex, uint32_t *argc, uint32_t *envc, size_t *size,
           sq_err *err)
{
  char *const *envp = ex->envp ? ex->envp : sbx_default_env;

  *argc = *envc = 0;
  *size = 0;
  for (; ex->argv[*argc]; (*argc)++)
    *size += strlen (ex->argv[*argc]) + 1;
  for (; envp[*envc]; (*envc)++)
    *size += strlen (envp[*envc]) + 1;
  if (*size > SBX_JOB_MAX_BYTES || *argc > SBX_JOB_MAX_ARGS || *envc > SBX_JOB_MAX_ARGS)
    return sq_err_set (err, E2BIG,
                       "the command and environment exceed the sandbox's limit of "
                       "%d strings and %d KiB",
                       SBX_JOB_MAX_ARGS, SBX_JOB_MAX_BYTES >> 10);
  return 0;
}

int
sbx_exec_check (const struct sbx_exec *ex, sq_err *err)
{
  uint32_t argc, envc;
  size_t size;

  return exec_size (ex, &argc, &envc, &size, err);
}

/* Sends 'c' and the job: its limits, argv and envp; with 'c', the output
 * page and the sinks (init_proto.h). */
int
sbx_send_job (struct sbx *b, const struct sbx_exec *ex, int page_fd, sq_err *err)
{
  char *const *envp = ex->envp ? ex->envp : sbx_default_env;
  struct job_header hdr = { .lim = b->lim };
  if (b->net && sbx_net_has_hosts (b))
    hdr.flags |= JOBF_HOSTS;
  int fds[JOB_MAX_FDS] = { page_fd }, nfds = 1;
  size_t size = 0;
  char *buf, *p;
  int r;

  const struct
  {
    int fd;
    uint32_t bit;
  } give[] = { { ex->stdin_fd, JOB_STDIN },
               { ex->stdout_fd, JOB_STDOUT },
               { ex->stderr_fd, JOB_STDERR } };

  for (size_t i = 0; i < SQ_ARRAY_SIZE (give); i++)
    if (give[i].fd >= 0)
      {
        hdr.fds |= give[i].bit;
        fds[nfds++] = give[i].fd;
      }
  if (exec_size (ex, &hdr.argc, &hdr.envc, &size, err) < 0)
    return -1;
  hdr.size = (uint32_t) size;
  buf = malloc (sizeof hdr + size);
  if (!buf)
    return sq_err_set (err, ENOMEM, "the job for the sandbox");
  memcpy (buf, &hdr, sizeof hdr);
  p = buf + sizeof hdr;
  for (uint32_t i = 0; i < hdr.argc + hdr.envc; i++)
    {
      const char *str = i < hdr.argc ? ex->argv[i] : envp[i - hdr.argc];
      size_t n = strlen (str) + 1;
      memcpy (p, str, n);
      p += n;
    }
  r = fdpass_send (b->sync_wr, "c", 1, fds, nfds);
  if (r >= 0)
    r = sq_send_all (b->sync_wr, buf, sizeof hdr + size);
  free (buf);
  if (r < 0)
    return sq_err_set (err, errno, "send the job to the sandbox");
  return 0;
}
