/* One run: clone into fresh namespaces, supervise, collect, clean up.
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
 * How init starts is in init_proto.h and spawn_child below.
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"
#include "verdict.h"

#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sys/socket.h>

#include "../common/cleanup.h"
#include "../common/fdpass.h"
#include "../common/log.h"
#include "../common/util.h"

#define CPU_POLL_MS 20

/* What the supervisor writes into a new init's /proc entry before init
 * learns its job: the id maps, and the OOM score. The kernel's OOM killer
 * skips a process whose oom_score_adj is -1000, and one inherited from a
 * caller protected that way (systemd's OOMScoreAdjust=, say) would make a
 * job unkillable under its own memory cap: it would hang to its wall
 * limit. A sandbox's processes get 1000 instead, the first to go when
 * the host runs out of memory. (Init no longer shares the caller's
 * memory by then, so only it changes.) */
static int
setup_init_proc (pid_t pid, unsigned outer, sq_err *err)
{
  char path[64], map[64];
  cleanup_close int dfd = -1;

  snprintf (path, sizeof path, "/proc/%d", (int) pid);
  snprintf (map, sizeof map, "%d %u 1\n", SBX_INNER_ID, outer);
  dfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return sq_err_set (err, errno, "open %s", path);
  if (sq_write_file_at (dfd, "uid_map", map, err) < 0
      || sq_write_file_at (dfd, "gid_map", map, err) < 0)
    return sq_err_wrap (err, "map the sandbox's ids");
  if (sq_write_file_at (dfd, "oom_score_adj", SBX_OOM_SCORE_ADJ, err) < 0)
    return sq_err_wrap (err, "set the sandbox's OOM score");
  return 0;
}

/* While init runs: the first kill this thread sent it, if any. */
struct supervisor
{
  int pidfd;
  enum sbx_kill_reason killed;
};

static void
kill_job (struct supervisor *s, enum sbx_kill_reason why)
{
  if (s->killed != SBX_KILL_NONE)
    return;
  s->killed = why;
  syscall (SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
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
  int *fds[] = { &b->pidfd, &b->sync_wr, &b->rep_rd };
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

/* What the child needs between clone and its execve of sandq-init. It
 * shares the caller's memory (CLONE_VM) and the caller's thread sleeps
 * until the execve (CLONE_VFORK), so everything is prepared here, and the
 * child makes raw syscalls only: no allocation, no lock, no libc state. */
struct spawn
{
  const struct cg_job *job;
  int src[INIT_FD_SCRATCH - INIT_FD_SYNC + 1]; /* for INIT_FD_SYNC.., or -1 */
  int init_fd;
  int err;          /* set by the child if it fails */
  const char *what; /* and what failed */
};

static char *const init_argv[] = { "sandq-init", NULL };
static const int init_caps[]
    = { CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP };
static char *const init_envp[] = { NULL };

__attribute__ ((no_sanitize_address)) static int
spawn_child (void *arg)
{
  struct spawn *sp = arg;
  const int n = (int) SQ_ARRAY_SIZE (sp->src);
  int tmp[SQ_ARRAY_SIZE (sp->src)];
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct caps[2];

  /* If the supervisor's thread dies, so does the sandbox. */
  syscall (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sp->what = "enter the job's cgroup";
  if (cg_job_enter (sp->job) < 0)
    goto fail;
  /* The fds init starts with: out of the way first, then into place.
   * Everything else closes at the execve. */
  sp->what = "arrange the fds";
  int init_fd = (int) syscall (SYS_fcntl, sp->init_fd, F_DUPFD_CLOEXEC, 64);
  if (init_fd < 0)
    goto fail;
  for (int i = 0; i < n; i++)
    {
      tmp[i] = sp->src[i] < 0
                   ? -1
                   : (int) syscall (SYS_fcntl, sp->src[i], F_DUPFD_CLOEXEC, 64);
      if (sp->src[i] >= 0 && tmp[i] < 0)
        goto fail;
    }
  /* A number left free (no stdin) may hold a descriptor of the caller
   * that is not close-on-exec (hiredis makes its sockets so): it must
   * close at the execve too. */
  for (int i = 0; i < n; i++)
    if (tmp[i] >= 0 ? syscall (SYS_dup3, tmp[i], INIT_FD_SYNC + i, 0) < 0
                    : syscall (SYS_close_range, INIT_FD_SYNC + i, INIT_FD_SYNC + i,
                               CLOSE_RANGE_CLOEXEC)
                          < 0)
      goto fail;
  if (syscall (SYS_close_range, INIT_FD_SYNC + n, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    goto fail;
  /* A process that is not root in its user namespace (ours maps no root)
   * keeps capabilities across execve only as ambient ones. init gets the
   * few it uses, out of the full set its user namespace gave the child:
   * mounts, hostname and its cgroup namespace (SYS_ADMIN), the loopback
   * device (NET_ADMIN), supplementary groups and the program's ids
   * (SETUID, SETGID), emptying the bounding set (SETPCAP). */
  sp->what = "pass on the capabilities";
  if (syscall (SYS_capget, &hdr, caps) < 0)
    goto fail;
  caps[0].inheritable = caps[1].inheritable = 0;
  for (size_t i = 0; i < SQ_ARRAY_SIZE (init_caps); i++)
    caps[init_caps[i] / 32].inheritable |= 1u << (init_caps[i] % 32);
  if (syscall (SYS_capset, &hdr, caps) < 0)
    goto fail;
  for (size_t i = 0; i < SQ_ARRAY_SIZE (init_caps); i++)
    if (syscall (SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, init_caps[i], 0, 0) < 0)
      goto fail;
  sp->what = "execute sandq-init from its memfd";
  syscall (SYS_execveat, init_fd, "", init_argv, init_envp, AT_EMPTY_PATH);
fail:
  sp->err = errno ? errno : EIO;
  syscall (SYS_exit, 127);
  return 127;
}

#if defined(__x86_64__)
/* clone3 that runs fn(arg) on the child's own stack, as clone(2) does:
 * glibc has no such wrapper, and only clone3 can clone into a cgroup. */
static pid_t
clone3_run (struct clone_args *ca, int (*fn) (void *), void *arg)
{
  long ret;
  register void *r12 __asm__("r12") = (void *) fn;
  register void *r13 __asm__("r13") = arg;

  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %%r13, %%rdi\n\t"
                   "call *%%r12\n\t"
                   "mov %%eax, %%edi\n\t"
                   "mov %[exit], %%eax\n\t"
                   "syscall\n\t"
                   "hlt\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long) SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(r12),
                     "r"(r13), [exit] "i"(SYS_exit)
                   : "rcx", "r11", "memory");
  if (ret < 0)
    {
      errno = (int) -ret;
      return -1;
    }
  return (pid_t) ret;
}
#endif

/* Starts the child in new namespaces (flags), and in the job's cgroup
 * from birth where the kernel allows (v2: CLONE_INTO_CGROUP; v1: the
 * child enters it itself). *attach tells the caller to move it by pid:
 * v2 without clone3 (not x86-64, or denied with ENOSYS as container
 * runtimes' default seccomp profiles do) or without CLONE_INTO_CGROUP
 * (before 5.7). */
static pid_t
spawn_init (struct spawn *sp, uint64_t flags, int cgroup_fd, int *pidfd, int *attach)
{
  static const size_t stack_size = 256 << 10;
  char *stack = alloca (stack_size);
  char *top = (char *) (((uintptr_t) (stack + stack_size)) & ~(uintptr_t) 63);
  pid_t pid;

  *attach = 0;
  flags |= CLONE_PIDFD | CLONE_VM | CLONE_VFORK;
#if defined(__x86_64__)
  struct clone_args ca;
  memset (&ca, 0, sizeof ca);
  ca.flags = flags;
  ca.pidfd = (uint64_t) (uintptr_t) pidfd;
  ca.exit_signal = SIGCHLD;
  ca.stack = (uint64_t) (uintptr_t) stack;
  ca.stack_size = (uint64_t) (top - stack);
  if (cgroup_fd >= 0)
    {
      ca.flags |= CLONE_INTO_CGROUP;
      ca.cgroup = (uint64_t) cgroup_fd;
      pid = clone3_run (&ca, spawn_child, sp);
      if (pid >= 0 || (errno != E2BIG && errno != EINVAL && errno != ENOSYS))
        return pid;
      ca.flags &= ~(uint64_t) CLONE_INTO_CGROUP;
      ca.cgroup = 0;
      *attach = 1;
    }
  pid = clone3_run (&ca, spawn_child, sp);
  if (pid >= 0 || errno != ENOSYS)
    return pid;
#endif
  *attach = cgroup_fd >= 0;
  return clone (spawn_child, top, (int) flags | SIGCHLD, sp, pidfd);
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
  if (cg_job_create (&b->host->cg, &b->job, name, cl, err) < 0)
    return -1;
  if (b->job.nentry < 1 || b->job.nentry > FDPASS_MAX)
    return sq_err_set (err, EINVAL, "the job has %d cgroups to enter", b->job.nentry);
  if (fdpass_send (b->sync_wr, "j", 1, b->job.entry_fd, b->job.nentry) < 0)
    return sq_err_set (err, errno, "send the sandbox's init its cgroup");
  cg_job_entered (&b->job);
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
  struct spawn sp;
  struct place pl;
  uint64_t flags;
  char name[32];
  int p[2], tfd, attach = 0;
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
#undef PIPE
  fcntl (rep_rd, F_SETFL, O_NONBLOCK);

  /* init is never moved into the job's cgroup by pid (see cgroup.h): it
   * is born in it (v2), steps into it before its execve (v1), or, in a
   * one-shot process on v1, steps into it once the supervisor has made
   * it beside init's own set-up (send_cgroup): making four cgroups is
   * about a fifth of a millisecond that the start then need not wait
   * for. (On v2 the cgroup must exist for the clone.) */
  int late_cgroup = h->cfg.one_shot && h->cg.mode == CG_MODE_V1;
  snprintf (name, sizeof name, "j%u", __atomic_add_fetch (&h->seq, 1, __ATOMIC_RELAXED));
  if (!late_cgroup && cg_job_create (&h->cg, &b->job, name, &cl, err) < 0)
    return -1;
  b->job_limits = cl;

  sp = (struct spawn){
    .job = &b->job,
    .src = { sync_rd, rep_wr, b->scratch_fd },
    .init_fd = h->init_fd,
  };
  flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  /* A process that runs one sandbox (the CLI) takes the namespace its
   * prefetch thread made beside the set-up: this thread steps into it for
   * the clone and straight back out. Every other sandbox gets a fresh one
   * with the clone (for a worker's prewarmed sandbox, off the job's path):
   * a namespace outlives its processes in what the kernel keeps for it
   * (TIME_WAIT sockets with their addresses and ports, for a minute), so
   * one reused across jobs would show a job the one before it. */
  int slot_ns = h->cfg.one_shot ? sbx_slot_netns_fd (h, b->slot) : -1, home_ns = -1;
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
    flags |= CLONE_NEWNET;
  ic = (struct init_config){
    .magic = INIT_MAGIC,
    .own_netns = slot_ns < 0,
    .join_fds = late_cgroup ? h->cg.ndirs : 0,
    .build_root = tfd < 0,
    .cap_last = h->cap_last,
    .nsteps = tfd < 0 ? h->nsteps : 0,
    .plan_size = tfd < 0 ? (uint32_t) h->plan_size : 0,
  };
  if (tfd >= 0 && enter_template (tfd, &pl, err) < 0)
    pid = -2;
  else
    {
      pid = spawn_init (&sp, flags, cg_job_clone_fd (&h->cg, &b->job), &pidfd, &attach);
      if (tfd >= 0)
        leave_template (&pl);
    }
  if (home_ns >= 0)
    {
      int e = errno;
      if (setns (home_ns, CLONE_NEWNET) < 0)
        abort (); /* never talk to Redis from the job's namespace */
      close (home_ns);
      errno = e;
    }
  if (pid > 0 && sp.err)
    {
      /* It failed before its execve, and has exited. */
      waitid (P_PIDFD, pidfd, NULL, WEXITED);
      cg_job_destroy (&h->cg, &b->job, NULL);
      return sq_err_set (err, sp.err, "start the sandbox: %s", sp.what);
    }
  if (pid < 0)
    {
      int e = errno;
      cg_job_destroy (&h->cg, &b->job, NULL);
      if (pid == -2)
        return -1;
      return sq_err_set (err, e,
                         "clone the sandbox (user namespaces may be "
                         "disabled: see /proc/sys/user/max_user_namespaces)");
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
  if ((attach && cg_job_attach (&h->cg, &b->job, pid, err) < 0)
      || setup_init_proc (pid, b->uid, err) < 0 || send_config (b, &ic, err) < 0
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

/* Sends 'c' and the job: its limits, argv and envp; with 'c', the output
 * page and the sinks (init_proto.h). */
static int
send_job (struct sbx *b, const struct sbx_exec *ex, int page_fd, sq_err *err)
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

/* The page init reports the output in (init_proto.h), mapped read-only;
 * NULL and err on failure, else *fd holds its memfd. */
static struct init_output *
output_page (int *fd, sq_err *err)
{
  void *p;

  *fd = memfd_create ("sandq-output", MFD_CLOEXEC);
  if (*fd < 0 || ftruncate (*fd, sizeof (struct init_output)) < 0)
    {
      sq_err_set (err, errno, "make the output page");
      return NULL;
    }
  p = mmap (NULL, sizeof (struct init_output), PROT_READ, MAP_SHARED, *fd, 0);
  if (p == MAP_FAILED)
    {
      sq_err_set (err, errno, "map the output page");
      return NULL;
    }
  return p;
}

int
sbx_run (struct sbx *b, const struct sbx_exec *ex, struct sbx_result *res, sq_err *err)
{
  struct sbx_host *h = b->host;
  struct sbx_observed obs;
  struct supervisor s;
  struct init_output *out = NULL;
  cleanup_close int page_fd = -1;
  uint64_t start_us, deadline_ms, next_cpu_ms;

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
  if (!b->started && sbx_start (b, err) < 0)
    goto fail;
  if (sbx_job_limits (b, err) < 0)
    goto fail;
  if (b->net && sbx_net_start (b, b->init_pid, err) < 0)
    goto fail;
  out = output_page (&page_fd, err);
  if (!out)
    goto fail;
  start_us = sq_now_us ();
  if (send_job (b, ex, page_fd, err) < 0)
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
  s.pidfd = b->pidfd;
  deadline_ms = start_us / 1000 + b->lim.wall_ms;
  next_cpu_ms = start_us / 1000 + CPU_POLL_MS;

  /* init passes the output on (init_proto.h); this thread keeps the
   * clock and the CPU cap, and takes a cancel. */
  for (;;)
    {
      struct pollfd pf[2] = {
        { b->pidfd, POLLIN, 0 },
        { b->cancel_fd, POLLIN, 0 },
      };
      uint64_t now = sq_now_ms ();
      uint64_t next = deadline_ms < next_cpu_ms ? deadline_ms : next_cpu_ms;
      int n = poll (pf, 2, next > now ? (int) (next - now) : 0);
      if (n < 0 && errno != EINTR)
        {
          sq_err_set (err, errno, "poll");
          kill_job (&s, SBX_KILL_SINK);
        }
      if (pf[1].revents & POLLIN)
        kill_job (&s, SBX_KILL_CANCEL);
      if (pf[0].revents & POLLIN)
        break;
      now = sq_now_ms ();
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
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
  res->wall_ms = (sq_now_us () - start_us + 500) / 1000;
  res->stdout_bytes = out->bytes[0];
  res->stderr_bytes = out->bytes[1];
  /* init ended the job for its output, unless this thread had killed it
   * first. A sink that failed for want of memory is the job's memory (the
   * pages are charged to it); any other failure is the caller's. */
  if (s.killed == SBX_KILL_NONE && out->capped)
    s.killed = SBX_KILL_OUTPUT;
  else if (s.killed == SBX_KILL_NONE && out->sink_errno && out->sink_errno != ENOMEM)
    s.killed = SBX_KILL_SINK;
  obs.output_no_memory = out->sink_errno == ENOMEM;

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
  if (b->net)
    sbx_net_finish (b, res);
  if (s.killed == SBX_KILL_SINK)
    snprintf (res->message, sizeof res->message,
              "sandq could not store the "
              "program's output: %s",
              strerror (out->sink_errno ? out->sink_errno : EIO));
  munmap (out, sizeof *out);
  /* It may quote the command, cut at 200 bytes: keep it UTF-8. */
  sq_utf8_sanitize (res->message);
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
  if (out)
    munmap (out, sizeof *out);
  sbx_abandon (b);
  fail_result (res, err);
  return -1;
}
