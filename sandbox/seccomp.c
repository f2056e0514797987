#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "../common/cleanup.h"

/* Denied with EPERM. Names the running libseccomp does not know are
 * skipped, so an older library still builds the rest of the policy. */
const char *const sbx_seccomp_denied[] = {
  /* other processes' memory and state */
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kcmp",
  "pidfd_getfd",
  /* the mount family and leaving the namespaces */
  "mount",
  "umount2",
  "pivot_root",
  "chroot",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "move_mount",
  "open_tree",
  "mount_setattr",
  "unshare",
  "setns",
  /* kernel attack surface */
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "perf_event_open",
  "userfaultfd",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "reboot",
  "open_by_handle_at",
  "name_to_handle_at",
  "swapon",
  "swapoff",
  "acct",
  "quotactl",
  "quotactl_fd",
  "syslog",
  "vhangup",
  "ioperm",
  "iopl",
  "lookup_dcookie",
  "uselib",
  "modify_ldt",
  "fanotify_init",
  "nfsservctl",
  /* the clock is the host's */
  "settimeofday",
  "clock_settime",
  "clock_adjtime",
  "adjtimex",
  NULL,
};

/* Denied with ENOSYS, as on a kernel built without them: calls that draw
 * on a counter shared beyond the job (see below). */
static const char *const enosys_calls[] = {
  "io_setup",     "io_destroy",    "io_submit",    "io_cancel",
  "io_getevents", "io_pgetevents", "inotify_init", "inotify_init1",
};

/* The socket families a job may open; every other one is refused. */
static const int open_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
static const int family_calls[] = { SCMP_SYS (socket), SCMP_SYS (socketpair) };

static const unsigned long ns_flags[] = {
  CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
  CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

/* The syscalls a job may not make, or makes to no effect: the deny list
 * (with the helper's exceptions), new namespaces, clone3, and the calls
 * that reach host-wide counters. 0, or libseccomp's negative errno. */
static int
add_syscall_rules (scmp_filter_ctx ctx, enum sbx_seccomp_policy policy)
{
  int r;

  for (size_t i = 0; sbx_seccomp_denied[i]; i++)
    {
      int nr = seccomp_syscall_resolve_name (sbx_seccomp_denied[i]);
      if (nr == __NR_SCMP_ERROR || nr < 0)
        continue;
      /* A helper's job process chroots into an empty root and joins the
       * slot's network namespace (worker/archiver.c). */
      if (policy == SBX_POLICY_HELPER
          && (nr == SCMP_SYS (chroot) || nr == SCMP_SYS (setns)))
        continue;
      r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0);
      if (r < 0)
        return r;
    }
  if (policy == SBX_POLICY_HELPER)
    {
      r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (setns), 1,
                            SCMP_A1 (SCMP_CMP_NE, CLONE_NEWNET));
      if (r < 0)
        return r;
    }
  /* New namespaces from inside: fork() and threads keep working. */
  for (size_t i = 0; i < SQ_ARRAY_SIZE (ns_flags); i++)
    {
      r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                            SCMP_A0 (SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
      if (r < 0)
        return r;
    }
  /* clone3 takes its flags in memory that BPF cannot read; ENOSYS makes
   * glibc fall back to clone(), which the rules above check. */
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (r < 0)
    return r;
  /* Counters a job must not reach, each failing with ENOSYS as on a
   * kernel built without the call (docs/sandbox.md, "Counters beyond the
   * job"):
   * - kernel AIO: io_setup takes from fs.aio-max-nr, one counter for the
   *   whole host; libaio users fall back, glibc's POSIX AIO uses threads;
   * - inotify instances: counted per user at every user namespace
   *   level, and the sandbox's namespace belongs to the host's root, so
   *   a job's instances counted against root's own max_inotify_instances
   *   (128): a job holding them left the host's root (systemd, udev)
   *   without inotify for its wall time. tail -f and file watchers fall
   *   back to polling. (fanotify_init, counted the same way, is in the
   *   EPERM list above.) */
  for (size_t i = 0; i < SQ_ARRAY_SIZE (enosys_calls); i++)
    {
      int nr = seccomp_syscall_resolve_name (enosys_calls[i]);
      if (nr == __NR_SCMP_ERROR || nr < 0)
        continue;
      r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), nr, 0);
      if (r < 0)
        return r;
    }
  return 0;
}

static int
family_open (uint64_t fam)
{
  for (size_t i = 0; i < SQ_ARRAY_SIZE (open_families); i++)
    if (fam == (uint64_t) open_families[i])
      return 1;
  return 0;
}

/* The refused families of syscall nr, as few comparisons as the open
 * ones allow: each run of refused families is split into aligned blocks
 * of a power of two, one masked comparison each (4-7 is one rule, not
 * four), and everything above the highest open family is one "at least"
 * comparison, which also covers families the kernel adds later. The
 * comparisons are of all 64 bits, so a family with high bits set (which
 * the kernel would cut to an int) is above the open ones, and refused.
 * The filter stays short: the kernel converts and compiles it at every
 * load, once per job. 0, or libseccomp's negative errno. */
static int
refuse_families (scmp_filter_ctx ctx, int nr)
{
  uint64_t top = 0;
  int r;

  for (size_t i = 0; i < SQ_ARRAY_SIZE (open_families); i++)
    if ((uint64_t) open_families[i] + 1 > top)
      top = (uint64_t) open_families[i] + 1;
  for (uint64_t fam = 0; fam < top;)
    {
      uint64_t size = 1;
      if (family_open (fam))
        {
          fam++;
          continue;
        }
      /* Double the block while it stays aligned, below top and refused. */
      for (;;)
        {
          uint64_t next = size * 2, f;
          if (fam % next != 0 || fam + next > top)
            break;
          for (f = fam + size; f < fam + next && !family_open (f); f++)
            ;
          if (f < fam + next)
            break;
          size = next;
        }
      r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EAFNOSUPPORT), nr, 1,
                            SCMP_A0 (SCMP_CMP_MASKED_EQ, ~(size - 1), fam));
      if (r < 0)
        return r;
      fam += size;
    }
  return seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EAFNOSUPPORT), nr, 1,
                           SCMP_A0 (SCMP_CMP_GE, top));
}

/* Socket families and terminal ioctls. 0, or libseccomp's negative
 * errno. */
static int
add_socket_rules (scmp_filter_ctx ctx)
{
  int r;

  /* Socket families: an allow-list, not a deny list. A family the kernel
   * does not namespace (AF_VSOCK: a port bound in a job is bound on the
   * host) or that is only attack surface (AF_PACKET, AF_ALG, Bluetooth,
   * ...) fails with EAFNOSUPPORT, as where the kernel lacks it; so does
   * any family added to the kernel later. Jobs keep AF_UNIX, AF_INET,
   * AF_INET6, and AF_NETLINK for NETLINK_ROUTE alone (addresses and
   * routes of the job's own network namespace). */
  for (size_t i = 0; i < SQ_ARRAY_SIZE (family_calls); i++)
    {
      r = refuse_families (ctx, family_calls[i]);
      if (r < 0)
        return r;
    }
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPROTONOSUPPORT), SCMP_SYS (socket), 2,
                        SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t) AF_NETLINK),
                        SCMP_A2 (SCMP_CMP_NE, (scmp_datum_t) NETLINK_ROUTE));
  if (r < 0)
    return r;
  /* Typing into another terminal's input queue. */
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (ioctl), 1,
                        SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
  if (r < 0)
    return r;
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (ioctl), 1,
                        SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
  if (r < 0)
    return r;

  return 0;
}

/* The compiled BPF program of ctx into sc (ctx is released). */
static int
export_filter (scmp_filter_ctx ctx, struct sbx_seccomp *sc, sq_err *err)
{
  cleanup_close int fd = -1;
  struct stat st;
  int r;

  fd = memfd_create ("sandq-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    {
      seccomp_release (ctx);
      return sq_err_set (err, errno, "memfd_create for the seccomp filter");
    }
  r = seccomp_export_bpf (ctx, fd);
  seccomp_release (ctx);
  if (r < 0)
    return sq_err_set (err, -r, "export the seccomp filter");
  if (fstat (fd, &st) < 0 || st.st_size <= 0
      || st.st_size % sizeof (struct sock_filter) != 0)
    return sq_err_set (err, EINVAL, "exported seccomp filter has a bad size");
  sc->prog.filter = malloc (st.st_size);
  if (!sc->prog.filter)
    return sq_err_set (err, ENOMEM, "seccomp filter");
  if (pread (fd, sc->prog.filter, st.st_size, 0) != st.st_size)
    {
      sbx_seccomp_free (sc);
      return sq_err_set (err, errno, "read back the seccomp filter");
    }
  sc->prog.len = st.st_size / sizeof (struct sock_filter);
  return 0;
}

int
sbx_seccomp_compile (struct sbx_seccomp *sc, enum sbx_seccomp_policy policy, sq_err *err)
{
  scmp_filter_ctx ctx;
  int r;

  memset (sc, 0, sizeof *sc);
  ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (!ctx)
    return sq_err_set (err, ENOMEM, "seccomp_init");
  /* A syscall of another architecture (i386, x32) fails instead of
   * reaching the kernel's compat entry points. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO (ENOSYS));
  if (r < 0)
    goto fail_r;
  /* A binary tree of syscall numbers instead of a linear list: a call is
   * decided in about log2(n) jumps, and loading the filter is cheaper,
   * since the kernel runs it once per syscall number to build its cache
   * of always-allowed calls. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (r < 0)
    goto fail_r;
  r = add_syscall_rules (ctx, policy);
  if (r == 0)
    r = add_socket_rules (ctx);
  if (r < 0)
    goto fail_r;
  return export_filter (ctx, sc, err);

fail_r:
  seccomp_release (ctx);
  return sq_err_set (err, -r, "build the seccomp filter");
}

void
sbx_seccomp_free (struct sbx_seccomp *sc)
{
  free (sc->prog.filter);
  sc->prog.filter = NULL;
  sc->prog.len = 0;
}
