/* Start-to-reap latency of /bin/true, measured five ways in one run,
 * interleaved round by round, each round in a shuffled order, so that
 * drift and neighbours affect all of them alike:
 *
 *   bare     fork + exec + wait, no isolation (the floor)
 *   bwrap    Debian's bubblewrap, same namespaces and a like bind set-up
 *   sandq    the sandq-sandbox CLI: all limits, cgroups and seccomp on
 *   library  sbx_run() in this process: a sandbox made for the run
 *   warm     the same with a prewarmed sandbox, as a worker's job finds
 *            it (sbx_prewarm); its making is not timed
 *
 * Prints each median and p90 in ms, and the ratio sandq/bwrap.
 *
 * Then bwrap and the CLI once more, each after 100 ms of idleness, as a
 * user running one job at a time meets them: kernel paths that are cheap
 * while warm (an RCU grace period for a cgroup move, say) show up there.
 *
 *   bench/sandbox-latency [ROUNDS]      (default 200; needs root)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "../sandbox/sandbox.h"

extern char **environ;

#define SHUFFLE_SEED 0x5eed5a9d5eedULL

static uint64_t
xorshift (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
spawn_ms (char **argv)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int st;
  uint64_t t0 = sq_now_us ();

  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawn (&pid, argv[0], &fa, NULL, argv, environ) != 0)
    {
      perror (argv[0]);
      exit (1);
    }
  waitpid (pid, &st, 0);
  posix_spawn_file_actions_destroy (&fa);
  if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
    {
      fprintf (stderr, "%s failed (status %d)\n", argv[0], st);
      exit (1);
    }
  return (sq_now_us () - t0) / 1000.0;
}

#define WARM_SLOT 4000

/* One sbx_new + sbx_run + sbx_free of /bin/true. For the prewarmed slot,
 * waiting for its sandbox to be ready is not timed. */
static double
library_ms (struct sbx_host *h, unsigned slot)
{
  struct sbx_limits lim;
  struct sbx_result res;
  char *argv[] = { "/bin/true", NULL };
  struct sbx_exec ex = { argv, NULL, -1, -1, -1 };
  sq_err err = { 0 };
  struct sbx *b;

  if (slot == WARM_SLOT && sbx_prewarm_wait (h, WARM_SLOT, 5000) < 0)
    {
      fprintf (stderr, "no prewarmed sandbox after 5 s\n");
      exit (1);
    }
  uint64_t t0 = sq_now_us ();
  sbx_limits_default (&lim);
  b = sbx_new (h, &lim, slot, &err);
  if (!b || sbx_run (b, &ex, &res, &err) < 0 || res.status != SQ_STATUS_OK)
    {
      fprintf (stderr, "library run failed: %s\n", err.msg);
      exit (1);
    }
  sbx_free (b);
  return (sq_now_us () - t0) / 1000.0;
}

static void
report (const char *name, double *v, int n, double *median)
{
  qsort (v, n, sizeof *v, cmp);
  *median = v[n / 2];
  printf ("%-8s median %7.3f ms   p90 %7.3f ms   min %7.3f ms\n", name, v[n / 2],
          v[n * 9 / 10], v[0]);
}

int
main (int argc, char **argv)
{
  int rounds = argc > 1 ? atoi (argv[1]) : 200;
  char self[4096], sandq[4200];
  char *bare[] = { "/bin/true", NULL };
  char *bwrap[64];
  int nb = 0;
  static const char *const etc[] = {
    "ld.so.cache", "ld.so.conf",   "ld.so.conf.d", "timezone",   "alternatives",
    "fonts",       "matplotlibrc", "mime.types",   "protocols",  "services",
    "magic",       "mailcap",      "python3",      "python3.11", NULL,
  };
  static char etcsrc[32][64];
  sq_err err = { 0 };

  if (rounds < 10)
    rounds = 10;
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  *strrchr (self, '/') = '\0';
  snprintf (sandq, sizeof sandq, "%s/../sandq-sandbox", self);
  char *sq[] = { sandq, "run", "--", "/bin/true", NULL };

  bwrap[nb++] = "/usr/bin/bwrap";
  bwrap[nb++] = "--unshare-all";
  bwrap[nb++] = "--die-with-parent";
  bwrap[nb++] = "--ro-bind";
  bwrap[nb++] = "/usr";
  bwrap[nb++] = "/usr";
  bwrap[nb++] = "--symlink";
  bwrap[nb++] = "usr/bin";
  bwrap[nb++] = "/bin";
  bwrap[nb++] = "--symlink";
  bwrap[nb++] = "usr/lib";
  bwrap[nb++] = "/lib";
  bwrap[nb++] = "--symlink";
  bwrap[nb++] = "usr/lib64";
  bwrap[nb++] = "/lib64";
  for (int i = 0, k = 0; etc[i]; i++)
    {
      struct stat st;
      snprintf (etcsrc[k], sizeof etcsrc[k], "/etc/%s", etc[i]);
      if (stat (etcsrc[k], &st) < 0)
        continue;
      bwrap[nb++] = "--ro-bind";
      bwrap[nb++] = etcsrc[k];
      bwrap[nb++] = etcsrc[k];
      k++;
    }
  bwrap[nb++] = "--proc";
  bwrap[nb++] = "/proc";
  bwrap[nb++] = "--dev";
  bwrap[nb++] = "/dev";
  bwrap[nb++] = "--tmpfs";
  bwrap[nb++] = "/tmp";
  bwrap[nb++] = "--tmpfs";
  bwrap[nb++] = "/work";
  bwrap[nb++] = "--chdir";
  bwrap[nb++] = "/work";
  bwrap[nb++] = "/bin/true";
  bwrap[nb] = NULL;

  struct sbx_host *h = sbx_host_new (NULL, &err);
  if (!h)
    {
      fprintf (stderr, "sandbox host: %s\n", err.msg);
      return 1;
    }
  double *t[5];
  for (int k = 0; k < 5; k++)
    t[k] = calloc (rounds, sizeof (double));
  if (sbx_prewarm (h, WARM_SLOT, &err) < 0)
    {
      fprintf (stderr, "prewarm: %s\n", err.msg);
      return 1;
    }
  /* Warm the page cache and the binaries once. */
  spawn_ms (bare), spawn_ms (bwrap), spawn_ms (sq), library_ms (h, 0),
      library_ms (h, WARM_SLOT);
  /* Each round runs the five in an order of its own, shuffled. The kernel
   * tears a network namespace down in a worker thread after its last
   * process is gone, so whatever runs next shares the CPUs with that:
   * with a fixed or rotated order, the CLI ran right after bwrap (and
   * its teardown) four rounds in five, bwrap after bare. */
  uint64_t rng = SHUFFLE_SEED;
  for (int r = 0; r < rounds; r++)
    {
      int order[5] = { 0, 1, 2, 3, 4 };
      for (int k = 4; k > 0; k--)
        {
          int j = (int) (xorshift (&rng) % (uint64_t) (k + 1)), tmp = order[k];
          order[k] = order[j];
          order[j] = tmp;
        }
      for (int k = 0; k < 5; k++)
        switch (order[k])
          {
          case 0:
            t[0][r] = spawn_ms (bare);
            break;
          case 1:
            t[1][r] = spawn_ms (bwrap);
            break;
          case 2:
            t[2][r] = spawn_ms (sq);
            break;
          case 3:
            t[3][r] = library_ms (h, (unsigned) r % WARM_SLOT);
            break;
          case 4:
            t[4][r] = library_ms (h, WARM_SLOT);
            break;
          }
    }
  printf ("start-to-reap latency of /bin/true, %d interleaved rounds, each in a shuffled "
          "order\n",
          rounds);
  printf ("%s\n", sbx_host_describe (h));
  double m[5];
  report ("bare", t[0], rounds, &m[0]);
  report ("bwrap", t[1], rounds, &m[1]);
  report ("sandq", t[2], rounds, &m[2]);
  report ("library", t[3], rounds, &m[3]);
  report ("warm", t[4], rounds, &m[4]);
  printf ("ratio sandq/bwrap   %.2f (target <= 0.50)\n", m[2] / m[1]);
  printf ("ratio library/bwrap %.2f\n", m[3] / m[1]);
  printf ("ratio warm/bwrap    %.2f\n", m[4] / m[1]);

  int idle_rounds = rounds / 10 < 10 ? 10 : rounds / 10;
  double *ib = calloc (idle_rounds, sizeof (double));
  double *is = calloc (idle_rounds, sizeof (double));
  for (int r = 0; r < idle_rounds; r++)
    {
      usleep (100000);
      ib[r] = spawn_ms (bwrap);
      usleep (100000);
      is[r] = spawn_ms (sq);
    }
  printf ("after 100 ms idle, %d rounds each:\n", idle_rounds);
  double mi[2];
  report ("bwrap", ib, idle_rounds, &mi[0]);
  report ("sandq", is, idle_rounds, &mi[1]);
  printf ("ratio sandq/bwrap   %.2f (idle)\n", mi[1] / mi[0]);
  free (ib);
  free (is);
  sbx_host_free (h);
  return 0;
}
