/* Runs /bin/true in a sandbox through the library with about BYTES of
 * arguments, as a caller that skips sbx_exec_check would (the CLI checks
 * first). With too many, the library must refuse the job, kill the init
 * it started for it, and return, not wait for a job that init never gets.
 *
 *   big-command BYTES
 *
 * Prints the error and exits 3 if the run fails, 0 if it succeeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sandbox/sandbox.h"

int
main (int argc, char **argv)
{
  size_t bytes = argc > 1 ? strtoull (argv[1], NULL, 10) : 0, n = bytes / 1000 + 2;
  char **args = calloc (n + 1, sizeof *args), *arg = malloc (1000);
  struct sbx_limits lim;
  struct sbx_result res;
  sq_err err = { 0 };
  struct sbx_host *h;
  struct sbx *b = NULL;
  int rc = 3;

  if (!args || !arg)
    return 1;
  memset (arg, 'x', 999);
  arg[999] = '\0';
  args[0] = "/bin/true";
  for (size_t i = 1; i < n; i++)
    args[i] = arg;
  struct sbx_exec ex = { args, NULL, -1, -1, -1 };
  sbx_limits_default (&lim);
  h = sbx_host_new (NULL, &err);
  if (h)
    b = sbx_new (h, &lim, (unsigned) getpid (), &err);
  if (b && sbx_run (b, &ex, &res, &err) == 0)
    rc = 0;
  else
    printf ("%s\n", err.msg);
  sbx_free (b);
  sbx_host_free (h);
  free (arg);
  free (args);
  return rc;
}
