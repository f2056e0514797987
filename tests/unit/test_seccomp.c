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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

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

/* ---- The filter's answer to calls that cannot be made from here.
 *
 * A call through another architecture's entry point (int 0x80 for i386)
 * reaches the filter only where the kernel keeps that entry point: many
 * kernels now refuse it outright (ia32_emulation=0), and the process gets
 * SIGSEGV before any filter runs. So the filter's own answer is proven
 * here by running its classic BPF over a made-up struct seccomp_data, as
 * the kernel would: the same program, whatever this host allows. */

static uint32_t
bpf_run (const struct sock_fprog *prog, const struct seccomp_data *d)
{
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
  const unsigned char *data = (const unsigned char *) d;

  for (unsigned pc = 0; pc < prog->len; pc++)
    {
      const struct sock_filter *f = &prog->filter[pc];
      switch (f->code)
        {
        case BPF_LD | BPF_W | BPF_ABS:
          assert_true (f->k % 4 == 0 && f->k + 4 <= sizeof *d);
          memcpy (&a, data + f->k, 4);
          break;
        case BPF_LD | BPF_IMM:
          a = f->k;
          break;
        case BPF_LDX | BPF_IMM:
          x = f->k;
          break;
        case BPF_LD | BPF_MEM:
          a = mem[f->k];
          break;
        case BPF_LDX | BPF_MEM:
          x = mem[f->k];
          break;
        case BPF_ST:
          mem[f->k] = a;
          break;
        case BPF_STX:
          mem[f->k] = x;
          break;
        case BPF_ALU | BPF_AND | BPF_K:
          a &= f->k;
          break;
        case BPF_ALU | BPF_OR | BPF_K:
          a |= f->k;
          break;
        case BPF_MISC | BPF_TAX:
          x = a;
          break;
        case BPF_MISC | BPF_TXA:
          a = x;
          break;
        case BPF_JMP | BPF_JA:
          pc += f->k;
          break;
        case BPF_JMP | BPF_JEQ | BPF_K:
          pc += a == f->k ? f->jt : f->jf;
          break;
        case BPF_JMP | BPF_JGT | BPF_K:
          pc += a > f->k ? f->jt : f->jf;
          break;
        case BPF_JMP | BPF_JGE | BPF_K:
          pc += a >= f->k ? f->jt : f->jf;
          break;
        case BPF_JMP | BPF_JSET | BPF_K:
          pc += (a & f->k) ? f->jt : f->jf;
          break;
        case BPF_RET | BPF_K:
          return f->k;
        case BPF_RET | BPF_A:
          return a;
        default:
          fail_msg ("instruction %u: BPF opcode 0x%x not simulated", pc, f->code);
        }
    }
  fail_msg ("the program runs past its end");
  return 0;
}

/* The policy's answer to syscall nr of arch, with a0 and a2 as its first
 * and third arguments. */
static uint32_t
decide_args (enum sbx_seccomp_policy policy, uint32_t arch, int nr, uint64_t a0,
             uint64_t a2)
{
  struct sbx_seccomp sc;
  struct seccomp_data d;

  memset (&d, 0, sizeof d);
  d.arch = arch;
  d.nr = nr;
  d.args[0] = a0;
  d.args[2] = a2;
  sbx_seccomp_builtin (&sc, policy);
  return bpf_run (&sc.prog, &d);
}

static uint32_t
decide (enum sbx_seccomp_policy policy, uint32_t arch, int nr)
{
  return decide_args (policy, arch, nr, 0, 0);
}

#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | (uint32_t) (e))

static void
foreign_arch_denied (void **state)
{
  (void) state;
  for (int p = SBX_POLICY_SANDBOX; p <= SBX_POLICY_HELPER; p++)
    {
      enum sbx_seccomp_policy pol = (enum sbx_seccomp_policy) p;
      /* i386 getpid (20), execve (11), and an i386 number that is an
       * allowed x86_64 call (0: read) all fail with ENOSYS. */
      assert_int_equal (decide (pol, AUDIT_ARCH_I386, 20), RET_ERRNO (ENOSYS));
      assert_int_equal (decide (pol, AUDIT_ARCH_I386, 11), RET_ERRNO (ENOSYS));
      assert_int_equal (decide (pol, AUDIT_ARCH_I386, 0), RET_ERRNO (ENOSYS));
      /* x32: the native architecture with bit 30 set. */
      assert_int_equal (decide (pol, AUDIT_ARCH_X86_64, 0x40000000 | 39),
                        RET_ERRNO (ENOSYS));
      /* The native calls themselves: getpid allowed, bpf denied. */
      assert_int_equal (decide (pol, AUDIT_ARCH_X86_64, SYS_getpid), SECCOMP_RET_ALLOW);
      assert_int_equal (decide (pol, AUDIT_ARCH_X86_64, SYS_bpf), RET_ERRNO (EPERM));
      /* An architecture nobody names. */
      assert_int_equal (decide (pol, 0x12345678, SYS_getpid), RET_ERRNO (ENOSYS));
      /* Calls that draw on counters beyond the job: ENOSYS. */
      static const int beyond[]
          = { SYS_io_setup, SYS_io_submit, SYS_inotify_init, SYS_inotify_init1 };
      for (size_t i = 0; i < SQ_ARRAY_SIZE (beyond); i++)
        {
          uint32_t got = decide (pol, AUDIT_ARCH_X86_64, beyond[i]);
          if (got != RET_ERRNO (ENOSYS))
            print_message ("# policy %d, syscall %d: 0x%x\n", p, beyond[i], got);
          assert_int_equal (got, RET_ERRNO (ENOSYS));
        }
      assert_int_equal (decide (pol, AUDIT_ARCH_X86_64, SYS_fanotify_init),
                        RET_ERRNO (EPERM));
    }
}

/* Every socket family, as socket() and socketpair(): AF_UNIX, AF_INET,
 * AF_INET6 and AF_NETLINK (route only) reach the kernel, every other one
 * fails with EAFNOSUPPORT, in both policies; so does any family with a
 * high bit set, whatever its low 32 bits name. */
static void
socket_families (void **state)
{
  static const int calls[] = { SYS_socket, SYS_socketpair };
  (void) state;
  for (int p = SBX_POLICY_SANDBOX; p <= SBX_POLICY_HELPER; p++)
    for (size_t c = 0; c < SQ_ARRAY_SIZE (calls); c++)
      for (uint64_t high = 0; high < 3; high++)
        for (uint64_t fam = 0; fam < 4200; fam++)
          {
            uint64_t a0 = fam
                          | (high == 0   ? 0
                             : high == 1 ? 1ULL << 32
                                         : 0xffffffff00000000ULL);
            int open = high == 0
                       && (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6
                           || fam == AF_NETLINK);
            uint32_t want = open ? SECCOMP_RET_ALLOW : RET_ERRNO (EAFNOSUPPORT);
            uint32_t got
                = decide_args ((enum sbx_seccomp_policy) p, AUDIT_ARCH_X86_64, calls[c],
                               a0, fam == AF_NETLINK ? NETLINK_ROUTE : 0);
            if (got != want)
              print_message ("# policy %d, syscall %d, family 0x%llx: 0x%x\n", p,
                             calls[c], (unsigned long long) a0, got);
            assert_int_equal (got, want);
          }
  /* Netlink: the route protocol alone. */
  assert_int_equal (
      decide_args (SBX_POLICY_SANDBOX, AUDIT_ARCH_X86_64, SYS_socket, AF_NETLINK, 4),
      RET_ERRNO (EPROTONOSUPPORT));
  assert_int_equal (
      decide_args (SBX_POLICY_SANDBOX, AUDIT_ARCH_X86_64, SYS_socket, AF_NETLINK, 9),
      RET_ERRNO (EPROTONOSUPPORT));
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
    cmocka_unit_test (sandbox_policy),         cmocka_unit_test (helper_policy),
    cmocka_unit_test (builtin_matches_source), cmocka_unit_test (foreign_arch_denied),
    cmocka_unit_test (socket_families),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
