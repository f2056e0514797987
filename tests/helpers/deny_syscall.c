/* Runs a command with clone3 denied (ENOSYS), as the default seccomp
 * profiles of container runtimes do: sandq must fall back to clone.
 *
 *   no-clone3 COMMAND [ARG...]
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);

  if (argc < 2)
    {
      fprintf (stderr, "usage: no-clone3 COMMAND [ARG...]\n");
      return 2;
    }
  if (!ctx || seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0) < 0
      || seccomp_load (ctx) < 0)
    {
      fprintf (stderr, "no-clone3: cannot load the filter\n");
      return 2;
    }
  seccomp_release (ctx);
  execvp (argv[1], argv + 1);
  perror (argv[1]);
  return 127;
}
