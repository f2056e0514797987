/* Runs a command with one syscall failing with a given errno, as the
 * seccomp filters in front of sandq on some hosts do: container runtimes
 * answer clone3 with ENOSYS, systemd's RestrictSUIDSGID= answers openat2
 * with ENOSYS. sandq must fall back, or call it a system_error: never the
 * job's fault.
 *
 *   deny-syscall NAME ERRNO COMMAND [ARG...]     (ERRNO: ENOSYS, EPERM or a number)
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  scmp_filter_ctx ctx;
  int nr, e;

  if (argc < 4)
    {
      fprintf (stderr, "usage: deny-syscall NAME ERRNO COMMAND [ARG...]\n");
      return 2;
    }
  nr = seccomp_syscall_resolve_name (argv[1]);
  e = strcmp (argv[2], "ENOSYS") == 0  ? ENOSYS
      : strcmp (argv[2], "EPERM") == 0 ? EPERM
                                       : atoi (argv[2]);
  if (nr == __NR_SCMP_ERROR || e <= 0)
    {
      fprintf (stderr, "deny-syscall: unknown syscall '%s' or errno '%s'\n", argv[1],
               argv[2]);
      return 2;
    }
  ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (!ctx || seccomp_rule_add (ctx, SCMP_ACT_ERRNO (e), nr, 0) < 0
      || seccomp_load (ctx) < 0)
    {
      fprintf (stderr, "deny-syscall: cannot load the filter\n");
      return 2;
    }
  seccomp_release (ctx);
  execvp (argv[3], argv + 3);
  perror (argv[3]);
  return 127;
}
