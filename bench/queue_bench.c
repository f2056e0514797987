/* End-to-end figures of the queue, beside the floors measured in the same
 * run. Needs root (the workers make sandboxes) and redis-server.
 *
 *   bench/queue-bench [JOBS]          (default 2000)
 *
 * Prints: redis-benchmark's LPUSH/RPOP rates and bare fork/exec rate
 * (floors); throughput of sandboxed /bin/true jobs with a 4 KiB input on
 * 1 and 2 sandq-worker processes (JOBS preloaded; the clock starts when
 * the first job is done, so that the workers' start-up, reported apart,
 * is not spread over the jobs; per core divides by the online CPUs);
 * throughput of no-op jobs that skip the
 * sandbox (claim + complete only: the queue's own cost); enqueue-to-start
 * and enqueue-to-final p50/p99 on an idle worker; Redis commands per job;
 * worker RSS at concurrency 4.
 *
 * QUEUE_BENCH_ONLY=WxC (e.g. 1x4) runs only that sandboxed configuration,
 * for profiling (perf record -a -- bench/queue-bench).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/proto.h"
#include "../common/redis.h"
#include "../common/util.h"

extern char **environ;
static char dir[64], sock[128], url[160], bindir[4096];
static pid_t redis_pid;
static void *input;
static size_t input_len;

static void
die (const char *what, const char *msg)
{
  fprintf (stderr, "queue-bench: %s: %s\n", what, msg);
  if (redis_pid > 0)
    kill (redis_pid, SIGKILL);
  exit (1);
}

static pid_t
spawn (char **argv, const char *log)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  if (posix_spawn (&pid, argv[0], &fa, NULL, argv, environ) != 0)
    die ("spawn", argv[0]);
  posix_spawn_file_actions_destroy (&fa);
  return pid;
}

static void
connect_or_die (sq_redis *r)
{
  sq_err err = { 0 };
  memset (r, 0, sizeof *r);
  r->timeout_ms = 10000;
  sq_redis_parse_url (url, &r->addr, &err);
  for (int i = 0; i < 100; i++)
    {
      if (sq_redis_connect (r, &err) == 0)
        return;
      usleep (50000);
    }
  die ("redis", err.msg);
}

static void
flush (sq_redis *r)
{
  sq_err err = { 0 };
  redisReply *rep = sq_redis_cmdf (r, &err, "FLUSHALL");
  if (rep)
    freeReplyObject (rep);
}

/* Queues n jobs (pipelined EVALSHA of the real submit script). */
static void
submit_many (sq_redis *r, const char *queue, int n, const char *prefix)
{
  struct sq_proto p;
  sq_err err = { 0 };
  static const char spec[] = "{\"version\":1,\"command\":[\"/bin/true\"]}";
  sq_proto_init (&p, r);
  for (int i = 0; i < n; i++)
    {
      char id[64];
      snprintf (id, sizeof id, "%s%d", prefix, i);
      struct sq_submit_args a = {
        .queue = queue,
        .id = id,
        .spec_json = spec,
        .input = input,
        .input_len = input_len,
        .ttl_ms = 3600000,
        .keep_s = 3600,
        .priority = 1,
        .max_attempts = 3,
        .submitter = "bench",
      };
      if (sq_submit (&p, &a, NULL, 0, &err) < 0)
        die ("submit", err.msg);
    }
}

static long long
done_count (sq_redis *r, const char *queue)
{
  sq_err err = { 0 };
  char key[SQ_KEY_MAX];
  sq_key (key, sizeof key, queue, "stats", NULL);
  redisReply *rep = sq_redis_cmdf (r, &err, "HGET %s status:ok", key);
  long long v = rep && rep->type == REDIS_REPLY_STRING ? strtoll (rep->str, NULL, 10) : 0;
  if (rep)
    freeReplyObject (rep);
  return v;
}

static long
rss_kib (pid_t pid)
{
  char path[64], buf[4096];
  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  FILE *f = fopen (path, "r");
  long v = -1;
  while (f && fgets (buf, sizeof buf, f))
    if (strncmp (buf, "VmRSS:", 6) == 0)
      v = strtol (buf + 6, NULL, 10);
  if (f)
    fclose (f);
  return v;
}

/* The worker's archive helper (sandq-archiver, a child of its main
 * thread), or 0. */
static pid_t
helper_of (pid_t worker)
{
  char path[96], comm[64];
  long child;
  snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int) worker, (int) worker);
  FILE *f = fopen (path, "r");
  pid_t found = 0;
  while (f && !found && fscanf (f, "%ld", &child) == 1)
    {
      snprintf (path, sizeof path, "/proc/%ld/comm", child);
      FILE *c = fopen (path, "r");
      if (c && fgets (comm, sizeof comm, c) && strncmp (comm, "sandq-archiver", 14) == 0)
        found = (pid_t) child;
      if (c)
        fclose (c);
    }
  if (f)
    fclose (f);
  return found;
}

/* Runs `workers` sandq-worker processes with `conc` slots over n queued
 * jobs; returns jobs/s, and commands per job and peak RSS via pointers. */
static double
run_workers (sq_redis *r, int n, int workers, int conc, double *cmds_per_job, long *rss,
             long *helper_rss, double *startup_ms)
{
  char q[32], conc_s[8], id[32];
  pid_t pids[8];
  snprintf (q, sizeof q, "w%dc%d", workers, conc);
  snprintf (conc_s, sizeof conc_s, "%d", conc);
  submit_many (r, q, n, "j");
  uint64_t t0 = sq_now_us ();
  char log[128];
  snprintf (log, sizeof log, "%s/worker-%s.log", dir, q);
  for (int i = 0; i < workers; i++)
    {
      char exe[4200];
      snprintf (exe, sizeof exe, "%s/sandq-worker", bindir);
      snprintf (id, sizeof id, "bench-%d", i);
      char *argv[] = { exe,    "--redis", url, "--queue",     q,        "--concurrency",
                       conc_s, "--id",    id,  "--log-level", "notice", NULL };
      pids[i] = spawn (argv, log);
    }
  /* The clock starts at the first finished job: the workers' start-up
   * (their sandbox host, template and helper) is paid once per process,
   * not per job, and is reported apart. */
  long long first;
  while ((first = done_count (r, q)) < 1)
    usleep (1000);
  uint64_t t1 = sq_now_us ();
  *startup_ms = (t1 - t0) / 1000.0;
  *rss = *helper_rss = 0;
  while (done_count (r, q) < n)
    {
      for (int i = 0; i < workers; i++)
        {
          long v = rss_kib (pids[i]);
          pid_t h = helper_of (pids[i]);
          long hv = h ? rss_kib (h) : 0;
          if (v > *rss)
            *rss = v;
          if (hv > *helper_rss)
            *helper_rss = hv;
        }
      usleep (20000);
    }
  double secs = (sq_now_us () - t1) / 1e6;
  for (int i = 0; i < workers; i++)
    {
      kill (pids[i], SIGTERM);
      waitpid (pids[i], NULL, 0);
    }
  /* Round trips the workers' slots sent (their own count, logged at stop):
   * the per-job path, without the supervisor's timed heartbeats. */
  unsigned long long slots = 0, v;
  FILE *f = fopen (log, "r");
  char line[1024];
  while (f && fgets (line, sizeof line, f))
    {
      char *p = strstr (line, "redis_commands slots=");
      if (p && sscanf (p, "redis_commands slots=%llu", &v) == 1)
        slots += v;
    }
  if (f)
    fclose (f);
  *cmds_per_job = (double) slots / n;
  return (double) (n - first) / secs;
}

static unsigned long long noop_cmds;
static pthread_mutex_t noop_lock = PTHREAD_MUTEX_INITIALIZER;

struct noop_arg
{
  const char *queue;
  int n;
};

static void *
noop_thread (void *arg)
{
  struct noop_arg *a = arg;
  sq_redis r;
  struct sq_proto p;
  sq_err err = { 0 };
  connect_or_die (&r);
  sq_proto_init (&p, &r);
  for (;;)
    {
      struct sq_claimed c;
      int rc = sq_claim (&p, a->queue, "noop", 15000, &c, &err);
      if (rc <= 0)
        break;
      static const char *fields[] = { "exit_code", "0" };
      struct sq_completion done = { "ok", "no-op", "x", 1, 1000, fields, 2 };
      char outcome[16];
      if (sq_complete (&p, a->queue, c.id, c.token, &done, outcome, sizeof outcome, &err)
          < 0)
        die ("complete", err.msg);
      sq_claimed_free (&c);
    }
  pthread_mutex_lock (&noop_lock);
  noop_cmds += r.ncommands;
  pthread_mutex_unlock (&noop_lock);
  sq_redis_close (&r);
  return NULL;
}

static double
run_noop (sq_redis *r, int n, int threads, double *cmds_per_job)
{
  char q[32];
  pthread_t th[8];
  struct noop_arg a;
  snprintf (q, sizeof q, "noop%d", threads);
  submit_many (r, q, n, "n");
  a.queue = q;
  a.n = n;
  noop_cmds = 0;
  uint64_t t0 = sq_now_us ();
  for (int i = 0; i < threads; i++)
    pthread_create (&th[i], NULL, noop_thread, &a);
  for (int i = 0; i < threads; i++)
    pthread_join (th[i], NULL);
  double secs = (sq_now_us () - t0) / 1e6;
  *cmds_per_job = (double) noop_cmds / n;
  return n / secs;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* One job at a time on an idle worker: enqueue-to-start and -to-final. */
static void
latency (sq_redis *r, int n)
{
  char exe[4200], log[128];
  uint64_t *start = calloc (n, sizeof *start), *fin = calloc (n, sizeof *fin);
  sq_err err = { 0 };
  snprintf (exe, sizeof exe, "%s/sandq-worker", bindir);
  snprintf (log, sizeof log, "%s/worker.log", dir);
  char *argv[] = { exe, "--redis", url,         "--queue",     "lat",     "--concurrency",
                   "1", "--id",    "bench-lat", "--log-level", "warning", NULL };
  pid_t pid = spawn (argv, log);
  usleep (300000);
  for (int i = 0; i < n; i++)
    {
      char id[32], key[SQ_KEY_MAX], ev[SQ_KEY_MAX];
      snprintf (id, sizeof id, "l%d", i);
      uint64_t t0 = sq_now_us ();
      /* Submitted the way the CLI does it: one script call. */
      submit_many (r, "lat", 1, id);
      snprintf (id + strlen (id), 8, "0");
      sq_key (key, sizeof key, "lat", "job", id);
      sq_key (ev, sizeof ev, "lat", "ev", id);
      for (;;)
        {
          redisReply *rep = sq_redis_cmdf (r, &err, "BLPOP %s 1", ev);
          if (!rep)
            die ("blpop", err.msg);
          int final = rep->type == REDIS_REPLY_ARRAY
                      && strcmp (rep->element[1]->str, "final") == 0;
          int running = rep->type == REDIS_REPLY_ARRAY
                        && strcmp (rep->element[1]->str, "running") == 0;
          freeReplyObject (rep);
          if (running && !start[i])
            start[i] = sq_now_us () - t0;
          if (final)
            break;
        }
      fin[i] = sq_now_us () - t0;
      if (!start[i])
        start[i] = fin[i];
      usleep (2000);
    }
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  qsort (start, n, sizeof *start, cmp_u64);
  qsort (fin, n, sizeof *fin, cmp_u64);
  printf ("enqueue-to-start   p50 %6.2f ms   p99 %6.2f ms   (idle worker, %d jobs)\n",
          start[n / 2] / 1000.0, start[n * 99 / 100] / 1000.0, n);
  printf ("enqueue-to-final   p50 %6.2f ms   p99 %6.2f ms   (target p50 < 4 ms)\n",
          fin[n / 2] / 1000.0, fin[n * 99 / 100] / 1000.0);
  free (start);
  free (fin);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 2000;
  sq_redis r;
  sq_err err = { 0 };
  char cmd[512], line[512];
  double cpj, startup;
  long rss, hrss;
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  if (ncpu < 1)
    ncpu = 1;

  if (n < 50)
    n = 50;
  ssize_t l = readlink ("/proc/self/exe", bindir, sizeof bindir - 1);
  bindir[l > 0 ? l : 0] = '\0';
  *strrchr (bindir, '/') = '\0';
  *strrchr (bindir, '/') = '\0'; /* build/bench -> build */
  snprintf (dir, sizeof dir, "/tmp/sandq-bench.XXXXXX");
  if (!mkdtemp (dir))
    die ("mkdtemp", strerror (errno));
  snprintf (sock, sizeof sock, "%s/redis.sock", dir);
  snprintf (url, sizeof url, "unix://%s", sock);
  {
    char log[128];
    snprintf (log, sizeof log, "%s/redis.log", dir);
    char *rargv[] = { "/usr/bin/redis-server",
                      "--port",
                      "0",
                      "--unixsocket",
                      sock,
                      "--save",
                      "",
                      "--appendonly",
                      "no",
                      "--dir",
                      dir,
                      NULL };
    redis_pid = spawn (rargv, log);
  }
  connect_or_die (&r);

  /* A 4 KiB input, as a gzip'ed tar like the CLI makes. */
  {
    struct sq_packer *p = sq_packer_new (1 << 20, &err);
    char data[4096];
    for (size_t i = 0; i < sizeof data; i++)
      data[i] = (char) ('a' + (i * 7919) % 26);
    sq_packer_add_mem (p, "input.txt", data, sizeof data, &err);
    sq_packer_finish (p, &input, &input_len, &err);
  }

  const char *only = getenv ("QUEUE_BENCH_ONLY");
  if (only)
    {
      int w = 0, c = 0;
      if (sscanf (only, "%dx%d", &w, &c) != 2 || w < 1 || w > 8 || c < 1)
        die ("QUEUE_BENCH_ONLY", "expected WORKERSxSLOTS, such as 1x4");
      double rate = run_workers (&r, n, w, c, &cpj, &rss, &hrss, &startup);
      printf ("%d worker(s) x %d slot(s)  %7.0f jobs/s\n", w, c, rate);
      kill (redis_pid, SIGKILL);
      waitpid (redis_pid, NULL, 0);
      return 0;
    }
  printf ("== floors, same machine, same run\n");
  snprintf (cmd, sizeof cmd,
            "redis-benchmark -s %s -q -n 100000 -t lpush,rpop 2>/dev/null", sock);
  FILE *f = popen (cmd, "r");
  while (f && fgets (line, sizeof line, f))
    {
      char *cr = strrchr (line, '\r');
      printf ("redis-benchmark    %s", cr ? cr + 1 : line);
    }
  if (f)
    pclose (f);
  {
    uint64_t t0 = sq_now_us ();
    int k = 2000;
    for (int i = 0; i < k; i++)
      {
        pid_t pid = fork ();
        if (pid == 0)
          {
            execl ("/bin/true", "true", NULL);
            _exit (127);
          }
        waitpid (pid, NULL, 0);
      }
    printf ("bare fork/exec     %.0f /s (one at a time)\n",
            k / ((sq_now_us () - t0) / 1e6));
  }
  flush (&r);

  printf ("\n== no-op jobs: claim + complete, no sandbox (the queue's own cost)\n");
  for (int t = 1; t <= 2; t++)
    {
      double rate = run_noop (&r, n * 5, t, &cpj);
      printf ("%d client(s)        %7.0f jobs/s   %.2f Redis round trips per job (claim, "
              "complete)\n",
              t, rate, cpj);
      flush (&r);
    }

  printf ("\n== sandboxed /bin/true, 4 KiB input, end to end through sandq-worker\n");
  struct
  {
    int workers, conc;
  } cfgs[] = { { 1, 1 }, { 2, 1 }, { 1, 2 }, { 1, 4 } };
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    {
      double rate = run_workers (&r, n, cfgs[i].workers, cfgs[i].conc, &cpj, &rss, &hrss,
                                 &startup);
      printf ("%d worker(s) x %d slot(s)  %7.0f jobs/s (%.0f per core)   %.2f round "
              "trips/job   "
              "max RSS: worker %ld KiB, its archive helper %ld KiB   "
              "(first job done %.0f ms after start)\n",
              cfgs[i].workers, cfgs[i].conc, rate, rate / ncpu, cpj, rss, hrss, startup);
      flush (&r);
    }

  printf ("\n== latency\n");
  latency (&r, n / 10 < 200 ? 200 : n / 10);

  sq_redis_close (&r);
  kill (redis_pid, SIGKILL);
  waitpid (redis_pid, NULL, 0);
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  if (system (cmd) != 0)
    return 1;
  return 0;
}
