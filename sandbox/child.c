/* Spawning a sandbox's init: the CLONE_VM child, clone3, and the
 * namespaces the cloning thread steps into for the clone.
 *
 * This is the code a security review reads apart: between the clone and
 * its execve of sandq-init the child runs in the caller's memory (the
 * worker's, with its Redis password), so it makes raw syscalls only and
 * touches nothing but what struct sbx_spawn hands it. What runs after the
 * execve is init.c, a separate static program (init_proto.h).
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"

#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/util.h"

/* What the supervisor writes into a new init's /proc entry before init
 * learns its job: the id maps, and the OOM score. The kernel's OOM killer
 * skips a process whose oom_score_adj is -1000, and one inherited from a
 * caller protected that way (systemd's OOMScoreAdjust=, say) would make a
 * job unkillable under its own memory cap: it would hang to its wall
 * limit. A sandbox's processes get 1000 instead, the first to go when
 * the host runs out of memory. (Init no longer shares the caller's
 * memory by then, so only it changes.) */
int
sbx_setup_init_proc (pid_t pid, unsigned outer, sq_err *err)
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

static char *const init_argv[] = { "sandq-init", NULL };
static const int init_caps[]
    = { CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP };
static char *const init_envp[] = { NULL };

__attribute__ ((no_sanitize_address)) static int
spawn_child (void *arg)
{
  struct sbx_spawn *sp = arg;
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
spawn_init (struct sbx_spawn *sp, uint64_t flags, int cgroup_fd, int *pidfd, int *attach)
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
/* Steps the calling thread into the network namespace ns; returns an fd
 * to the one it was in, or -1 (and stays) if it could not. */
static int
enter_netns (int ns)
{
  int home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  if (home >= 0 && setns (ns, CLONE_NEWNET) < 0)
    {
      close (home);
      home = -1;
    }
  return home;
}

pid_t
sbx_spawn_init (struct sbx_spawn *sp, int tfd, int *netns, uint64_t flags, int cgroup_fd,
                int *pidfd, int *attach, sq_err *err)
{
  struct place pl;
  int home_ns = *netns >= 0 ? enter_netns (*netns) : -1;
  pid_t pid;

  if (home_ns < 0)
    {
      *netns = -1;
      flags |= CLONE_NEWNET;
    }
  if (tfd >= 0 && enter_template (tfd, &pl, err) < 0)
    pid = -2;
  else
    {
      pid = spawn_init (sp, flags, cgroup_fd, pidfd, attach);
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
  if (pid == -1)
    sq_err_set (err, errno,
                "clone the sandbox (user namespaces may be "
                "disabled: see /proc/sys/user/max_user_namespaces)");
  return pid < 0 ? -1 : pid;
}
