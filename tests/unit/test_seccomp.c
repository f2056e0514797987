/* sandbox/seccomp: the two policies compiled at build time, loaded in a
 * child, decide as documented. Each check runs a real syscall under the
 * filter; a call the filter lets through reaches the kernel and fails
 * there with another errno (EBADF, ENOENT, EINVAL), which tells the two
 * apart. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>

#include "../../common/cleanup.h"
#include "../../sandbox/seccomp.h"

struct check
{
  const char *what;
  long (*call) (void);
  int want[2]; /* the errno under each policy; 0: the call succeeds */
};

static long
c_unshare_user (void)
{
  return syscall (SYS_unshare, CLONE_NEWUSER);
}
static long
c_setns_mnt (void)
{
  return syscall (SYS_setns, -1, CLONE_NEWNS);
}
static long
c_setns_net (void)
{
  return syscall (SYS_setns, -1, CLONE_NEWNET);
}
static long
c_chroot (void)
{
  return syscall (SYS_chroot, "/nonexistent-sandq-seccomp-test");
}
static long
c_mount (void)
{
  return syscall (SYS_mount, "none", "/nonexistent-sandq-seccomp-test", "tmpfs", 0, NULL);
}
static long
c_bpf (void)
{
  return syscall (SYS_bpf, BPF_PROG_LOAD, NULL, 0);
}
static long
c_io_uring (void)
{
  return syscall (SYS_io_uring_setup, 1, NULL);
}
static long
c_ptrace (void)
{
  return syscall (SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}
static long
c_clone_newnet (void)
{
  return syscall (SYS_clone, CLONE_NEWNET | SIGCHLD, 0, NULL, NULL, 0);
}
static long
c_fork (void)
{
  pid_t pid = fork ();
  int st;
  if (pid == 0)
    _exit (7);
  if (pid < 0 || waitpid (pid, &st, 0) != pid || !WIFEXITED (st) || WEXITSTATUS (st) != 7)
    return -1;
  return 0;
}

/* The archive helper's policy lets chroot and setns into a network
 * namespace reach the kernel; every other denial holds for both. */
static const struct check checks[] = {
  { "unshare(CLONE_NEWUSER)", c_unshare_user, { EPERM, EPERM } },
  { "setns(mnt)", c_setns_mnt, { EPERM, EPERM } },
  { "setns(net)", c_setns_net, { EPERM, EBADF } },
  { "chroot", c_chroot, { EPERM, ENOENT } },
  { "mount", c_mount, { EPERM, EPERM } },
  { "bpf", c_bpf, { EPERM, EPERM } },
  { "io_uring_setup", c_io_uring, { EPERM, EPERM } },
  { "ptrace", c_ptrace, { EPERM, EPERM } },
  { "clone(CLONE_NEWNET)", c_clone_newnet, { EPERM, EPERM } },
  { "fork", c_fork, { 0, 0 } },
};

/* Loads the policy in a child and runs the checks there; returns the
 * child's exit status: 0, or 1 + the index of the first failed check. */
static int
run_checks (enum sbx_seccomp_policy policy)
{
  pid_t pid = fork ();
  int st;

  if (pid == 0)
    {
      struct sbx_seccomp sc;
      sbx_seccomp_builtin (&sc, policy);
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sbx_seccomp_load (&sc) < 0)
        _exit (100);
      for (size_t i = 0; i < SQ_ARRAY_SIZE (checks); i++)
        {
          int want = checks[i].want[policy == SBX_POLICY_HELPER];
          errno = 0;
          long r = checks[i].call ();
          int e = r < 0 ? errno : 0;
          if (want == 0 ? r < 0 : e != want)
            {
              fprintf (stderr, "# %s: got %ld (%s)\n", checks[i].what, r, strerror (e));
              _exit (1 + (int) i);
            }
        }
      _exit (0);
    }
  assert_true (pid > 0);
  assert_int_equal (waitpid (pid, &st, 0), pid);
  assert_true (WIFEXITED (st));
  return WEXITSTATUS (st);
}

static void
sandbox_policy (void **state)
{
  (void) state;
  assert_int_equal (run_checks (SBX_POLICY_SANDBOX), 0);
}

static void
helper_policy (void **state)
{
  (void) state;
  assert_int_equal (run_checks (SBX_POLICY_HELPER), 0);
}

/* The programs built into the library are what sandbox/seccomp.c says
 * today (the header is generated; a stale one would differ). */
static void
builtin_matches_source (void **state)
{
  (void) state;
  for (int p = SBX_POLICY_SANDBOX; p <= SBX_POLICY_HELPER; p++)
    {
      struct sbx_seccomp built, compiled;
      sq_err err = { 0 };
      sbx_seccomp_builtin (&built, (enum sbx_seccomp_policy) p);
      assert_int_equal (
          sbx_seccomp_compile (&compiled, (enum sbx_seccomp_policy) p, &err), 0);
      assert_int_equal (built.prog.len, compiled.prog.len);
      assert_memory_equal (built.prog.filter, compiled.prog.filter,
                           built.prog.len * sizeof built.prog.filter[0]);
      sbx_seccomp_free (&compiled);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (sandbox_policy),
    cmocka_unit_test (helper_policy),
    cmocka_unit_test (builtin_matches_source),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
