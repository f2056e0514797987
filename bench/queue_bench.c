/* End-to-end figures of the queue, beside a peer and the floors measured
 * in the same run. Needs root (the workers make sandboxes) and
 * redis-server; the peer needs Node.js and `make bench`, which installs
 * it (bench/peer).
 *
 *   bench/queue-bench [JOBS]          (default 2000)
 *
 * Prints, each from this run:
 * - floors: redis-benchmark's LPUSH/RPOP rates; bare fork/exec of
 *   /bin/true, its rate and the machine's CPU per exec (the exec floor);
 * - the queue's own cost: no-op jobs that skip the sandbox;
 * - drains of JOBS preloaded jobs, /bin/true with a 4 KiB input tarball:
 *   sandq-worker in several shapes (one of them with Redis far, below),
 *   and the peer, BullMQ with bubblewrap
 *   (bench/peer/bullmq-bwrap.js). For each: jobs/s, the whole machine's
 *   busy CPU per job (/proc/stat, so every process a job causes counts:
 *   worker, helper, sandbox, redis-server, kernel threads), processes the
 *   machine created per job (/proc/stat "processes"), Redis round trips
 *   per job (sandq's own count: its slots' and supervisor's), and peak
 *   RSS of the worker and its archive helper. The clock starts when the
 *   first job is done, so that start-up is not spread over the jobs.
 * - latency, one job at a time, enqueue to the final status: hot (2 ms
 *   between jobs) and after 1 s idle, sandq and the peer; and after 1 s
 *   idle with Redis "far", 0.25 ms away each way (bench/far_redis.c), as
 *   across a network, where each round trip costs more;
 * - a summary of the ratios against their targets.
 *
 * QUEUE_BENCH_ONLY=WxC (e.g. 1x4; 1x1far with Redis far) runs only that
 * sandboxed configuration,
 * and QUEUE_BENCH_ONLY=latency only sandq's latency, for profiling
 * (perf record -a -- bench/queue-bench).
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
#include "far_redis.h"

extern char **environ;
static char dir[64], sock[128], url[160], bindir[4096];
static pid_t redis_pid;
static void *input;
static size_t input_len;

/* Stops the private redis-server and removes the run's directory (its
 * socket, logs and input). */
static void
cleanup (void)
{
  char cmd[128];
  if (redis_pid > 0)
    {
      kill (redis_pid, SIGKILL);
      waitpid (redis_pid, NULL, 0);
      redis_pid = 0;
    }
  if (dir[0])
    {
      snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
      if (system (cmd) != 0)
        fprintf (stderr, "queue-bench: could not remove %s\n", dir);
    }
}

static void
die (const char *what, const char *msg)
{
  fprintf (stderr, "queue-bench: %s: %s\n", what, msg);
  cleanup ();
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
connect_or_die (sq_redis *r, const char *to)
{
  sq_err err = { 0 };
  memset (r, 0, sizeof *r);
  r->timeout_ms = 10000;
  sq_redis_parse_url (to, &r->addr, &err);
  for (int i = 0; i < 100; i++)
    {
      if (sq_redis_connect (r, &err) == 0)
        return;
      usleep (50000);
    }
  die ("redis", err.msg);
}

/* Redis FAR_US away each way (far_redis.c): its socket and URL. */
#define FAR_US 250
static char far_sock[128], far_url[160];

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

/* The whole machine's busy CPU (clock ticks), processes created and page
 * faults taken. */
struct machine
{
  unsigned long long busy, procs, faults;
  uint64_t t;
};

static void
machine_now (struct machine *m)
{
  char line[512];
  unsigned long long v[8] = { 0 };
  FILE *f = fopen ("/proc/stat", "r");
  memset (m, 0, sizeof *m);
  while (f && fgets (line, sizeof line, f))
    {
      if (strncmp (line, "cpu ", 4) == 0)
        sscanf (line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                &v[3], &v[4], &v[5], &v[6], &v[7]);
      else if (strncmp (line, "processes ", 10) == 0)
        m->procs = strtoull (line + 10, NULL, 10);
    }
  if (f)
    fclose (f);
  /* user nice system idle iowait irq softirq steal: all but idle, iowait
   * and steal (the hypervisor's). */
  m->busy = v[0] + v[1] + v[2] + v[5] + v[6];
  f = fopen ("/proc/vmstat", "r");
  while (f && fgets (line, sizeof line, f))
    if (strncmp (line, "pgfault ", 8) == 0)
      m->faults = strtoull (line + 8, NULL, 10);
  if (f)
    fclose (f);
  m->t = sq_now_us ();
}

static double
cpu_ms (const struct machine *a, const struct machine *b)
{
  return (double) (b->busy - a->busy) * 1000.0 / (double) sysconf (_SC_CLK_TCK);
}

/* One drain's figures, sandq's or the peer's; jobs_s 0: not measured. */
struct drain
{
  double jobs_s, cpu_ms_job, procs_job, faults_job, rtt_job, startup_ms;
  long rss, helper_rss;
};

/* Runs `workers` sandq-worker processes with `conc` slots over n queued
 * jobs, the workers talking to Redis at wurl. */
static void
run_workers (sq_redis *r, int n, int workers, int conc, const char *wurl, struct drain *d)
{
  char q[32], conc_s[8], id[32];
  pid_t pids[8];
  struct machine m0, m1;
  snprintf (q, sizeof q, "w%dc%d%s", workers, conc, wurl == url ? "" : "far");
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
      char *argv[]
          = { exe,    "--redis", (char *) wurl, "--queue", q,   "--concurrency", conc_s,
              "--id", id,        "--log-level", "notice",  NULL };
      pids[i] = spawn (argv, log);
    }
  /* The clock starts at the first finished job: the workers' start-up
   * (their sandbox host, template and helper) is paid once per process,
   * not per job, and is reported apart. */
  long long first;
  while ((first = done_count (r, q)) < 1)
    usleep (1000);
  machine_now (&m0);
  d->startup_ms = (m0.t - t0) / 1000.0;
  d->rss = d->helper_rss = 0;
  while (done_count (r, q) < n)
    {
      for (int i = 0; i < workers; i++)
        {
          long v = rss_kib (pids[i]);
          pid_t h = helper_of (pids[i]);
          long hv = h ? rss_kib (h) : 0;
          if (v > d->rss)
            d->rss = v;
          if (hv > d->helper_rss)
            d->helper_rss = hv;
        }
      usleep (20000);
    }
  machine_now (&m1);
  for (int i = 0; i < workers; i++)
    {
      kill (pids[i], SIGTERM);
      waitpid (pids[i], NULL, 0);
    }
  /* Round trips the workers sent (their own count, logged at stop): their
   * slots' and their supervisors' (claims, completions, heartbeats). */
  unsigned long long total = 0, slots, sup;
  FILE *f = fopen (log, "r");
  char line[1024];
  while (f && fgets (line, sizeof line, f))
    {
      char *p = strstr (line, "redis_commands slots=");
      if (p && sscanf (p, "redis_commands slots=%llu supervisor=%llu", &slots, &sup) == 2)
        total += slots + sup;
    }
  if (f)
    fclose (f);
  double jobs = (double) (n - first);
  d->rtt_job = (double) total / n;
  d->jobs_s = jobs / ((m1.t - m0.t) / 1e6);
  d->cpu_ms_job = cpu_ms (&m0, &m1) / jobs;
  d->procs_job = (double) (m1.procs - m0.procs) / jobs;
  d->faults_job = (double) (m1.faults - m0.faults) / jobs;
}

/* The peer (bench/peer/bullmq-bwrap.js), one mode; parses its line of
 * JSON into d (jobs_s etc.) or lat (p50, p99). Returns -1 and says why
 * when it cannot run. */
static char peer_js[4300], input_path[128];
static char peer_why[256];

static int
run_peer (const char *args, struct drain *d, double lat[2])
{
  char cmd[8192], line[1024] = "";
  if (peer_why[0])
    return -1;
  snprintf (cmd, sizeof cmd, "node %s %s 2>&1", peer_js, args);
  FILE *f = popen (cmd, "r");
  char last[1024] = "";
  /* Its figures are its one line of JSON; without one, its last line (an
   * error of its own or Node's) says why. */
  while (f && fgets (last, sizeof last, f))
    if (line[0] != '{' && last[0] != '\n')
      memcpy (line, last, sizeof line);
  int rc = f ? pclose (f) : -1;
  line[strcspn (line, "\n")] = '\0';
  if (rc != 0 || line[0] != '{')
    {
      snprintf (peer_why, sizeof peer_why, "the peer failed: %.200s",
                line[0] ? line : "no output");
      return -1;
    }
  char *p;
  if (d && (p = strstr (line, "\"jobs_s\":")))
    {
      d->jobs_s = strtod (p + 9, NULL);
      d->cpu_ms_job = (p = strstr (line, "\"cpu_ms_job\":")) ? strtod (p + 13, NULL) : 0;
      d->procs_job = (p = strstr (line, "\"procs_job\":")) ? strtod (p + 12, NULL) : 0;
      d->faults_job = (p = strstr (line, "\"faults_job\":")) ? strtod (p + 13, NULL) : 0;
    }
  if (lat && (p = strstr (line, "\"p50_ms\":")))
    {
      lat[0] = strtod (p + 9, NULL);
      lat[1] = (p = strstr (line, "\"p99_ms\":")) ? strtod (p + 9, NULL) : 0;
    }
  return 0;
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
  connect_or_die (&r, url);
  sq_proto_init (&p, &r);
  /* As a worker's slot: each claim after the first rides behind the
   * complete before it. */
  struct sq_claimed c;
  int rc = sq_claim (&p, a->queue, "noop", 15000, &c, &err);
  while (rc == 1)
    {
      static const char *fields[] = { "exit_code", "0" };
      struct sq_completion done = { "ok", "no-op", "x", 1, 1000, fields, 2 };
      char outcome[16];
      struct sq_claimed next;
      sq_claim_behind (&p, a->queue, "noop", 15000);
      if (sq_complete (&p, a->queue, c.id, c.token, &done, outcome, sizeof outcome, &err)
          < 0)
        die ("complete", err.msg);
      sq_claimed_free (&c);
      rc = sq_claim_behind_result (&p, &next);
      if (rc < 0)
        rc = sq_claim (&p, a->queue, "noop", 15000, &next, &err);
      c = next;
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

/* One job at a time, gap_ms apart, on an idle worker of its own that
 * reaches Redis at wurl, as r does: enqueue-to-start and enqueue-to-final,
 * p50 and p99 in ms, into out[4]. */
static void
latency (sq_redis *r, const char *wurl, const char *qname, int n, int gap_ms,
         double out[4])
{
  char exe[4200], log[128], q[32];
  uint64_t *start = calloc (n, sizeof *start), *fin = calloc (n, sizeof *fin);
  sq_err err = { 0 };
  snprintf (exe, sizeof exe, "%s/sandq-worker", bindir);
  snprintf (log, sizeof log, "%s/worker.log", dir);
  snprintf (q, sizeof q, "%s%d", qname, gap_ms);
  char *argv[]
      = { exe, "--redis", (char *) wurl, "--queue",     q,         "--concurrency",
          "1", "--id",    "bench-lat",   "--log-level", "warning", NULL };
  pid_t pid = spawn (argv, log);
  usleep (300000);
  for (int i = 0; i < n; i++)
    {
      char id[32], key[SQ_KEY_MAX], ev[SQ_KEY_MAX];
      usleep (gap_ms * 1000);
      snprintf (id, sizeof id, "l%d", i);
      uint64_t t0 = sq_now_us ();
      /* Submitted the way the CLI does it: one script call. */
      submit_many (r, q, 1, id);
      snprintf (id + strlen (id), 8, "0");
      sq_key (key, sizeof key, q, "job", id);
      sq_key (ev, sizeof ev, q, "ev", id);
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
    }
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  qsort (start, n, sizeof *start, cmp_u64);
  qsort (fin, n, sizeof *fin, cmp_u64);
  out[0] = start[n / 2] / 1000.0;
  out[1] = start[n * 99 / 100] / 1000.0;
  out[2] = fin[n / 2] / 1000.0;
  out[3] = fin[n * 99 / 100] / 1000.0;
  free (start);
  free (fin);
}

/* sandq's latency rows: 2 ms apart, after 1 s idle, and after 1 s idle
 * with Redis far; printed, and into hot, idle and far. */
/* Starts the relay to Redis far, once; far_url is its address. */
static void
far_up (void)
{
  static int up;

  if (up++)
    return;
  snprintf (far_sock, sizeof far_sock, "%s/far.sock", dir);
  snprintf (far_url, sizeof far_url, "unix://%s", far_sock);
  if (far_redis_start (sock, far_sock, FAR_US) < 0)
    die ("far-redis", strerror (errno));
}

static void
sandq_latency (sq_redis *r, int nhot, int nidle, double hot[4], double idle[4],
               double far[4])
{
  sq_redis fr;

  latency (r, url, "lat", nhot, 2, hot);
  latency (r, url, "lat", nidle, 1000, idle);
  far_up ();
  connect_or_die (&fr, far_url);
  latency (&fr, far_url, "far", nidle, 1000, far);
  sq_redis_close (&fr);
  printf ("sandq, 2 ms apart          start p50 %6.2f  final p50 %6.2f  p99 %6.2f ms\n",
          hot[0], hot[2], hot[3]);
  printf ("sandq, after 1 s idle      start p50 %6.2f  final p50 %6.2f  p99 %6.2f ms\n",
          idle[0], idle[2], idle[3]);
  printf ("sandq, idle, Redis far     start p50 %6.2f  final p50 %6.2f  p99 %6.2f ms\n",
          far[0], far[2], far[3]);
}

static void
verdict (const char *what, double ratio, double target, int at_most)
{
  int ok = at_most ? ratio <= target : ratio >= target;
  printf ("%-44s %7.2f   %s %.2f   %s\n", what, ratio, at_most ? "<=" : ">=", target,
          ok ? "met" : "missed");
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 2000;
  sq_redis r;
  sq_err err = { 0 };
  char cmd[512], line[512];
  double cpj;
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
  connect_or_die (&r, url);

  /* A 4 KiB input, as a gzip'ed tar like the CLI makes; the peer gets the
   * same bytes. */
  {
    struct sq_packer *p = sq_packer_new (1 << 20, &err);
    char data[4096];
    for (size_t i = 0; i < sizeof data; i++)
      data[i] = (char) ('a' + (i * 7919) % 26);
    sq_packer_add_mem (p, "input.txt", data, sizeof data, &err);
    sq_packer_finish (p, &input, &input_len, &err);
    snprintf (input_path, sizeof input_path, "%s/input.tar.gz", dir);
    int fd = open (input_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || sq_write_all (fd, input, input_len) < 0)
      die (input_path, strerror (errno));
    close (fd);
  }
  snprintf (peer_js, sizeof peer_js, "%s/bench/peer/bullmq-bwrap.js", bindir);
  {
    char mods[4400];
    snprintf (mods, sizeof mods, "%s/bench/peer/node_modules/bullmq", bindir);
    if (access (peer_js, R_OK) < 0 || access (mods, R_OK) < 0)
      snprintf (peer_why, sizeof peer_why,
                "the peer is not installed (make bench installs it into %s/bench/peer)",
                bindir);
    else if (system ("node --version >/dev/null 2>&1") != 0)
      snprintf (peer_why, sizeof peer_why,
                "no node on PATH (scripts/install-deps --bench)");
  }

  const char *only = getenv ("QUEUE_BENCH_ONLY");
  if (only && strcmp (only, "latency") == 0)
    {
      double hot[4], idle[4], far[4];
      sandq_latency (&r, 200, 30, hot, idle, far);
      cleanup ();
      return 0;
    }
  if (only)
    {
      int w = 0, c = 0;
      char far[8] = "";
      struct drain d;
      if (sscanf (only, "%dx%d%7s", &w, &c, far) < 2 || w < 1 || w > 8 || c < 1
          || (far[0] && strcmp (far, "far") != 0))
        die ("QUEUE_BENCH_ONLY", "expected WORKERSxSLOTS[far], such as 1x4 or 1x1far");
      if (far[0])
        far_up ();
      run_workers (&r, n, w, c, far[0] ? far_url : url, &d);
      printf ("%d worker(s) x %d slot(s)%s  %7.0f jobs/s  %.2f ms CPU/job  %.2f "
              "processes/job  "
              "%.0f page faults/job  %.2f round trips/job  RSS %ld/%ld KiB\n",
              w, c, far[0] ? ", Redis far" : "", d.jobs_s, d.cpu_ms_job, d.procs_job,
              d.faults_job, d.rtt_job, d.rss, d.helper_rss);
      cleanup ();
      return 0;
    }
  printf ("== floors, same machine, same run\n");
  snprintf (cmd, sizeof cmd,
            "redis-benchmark -s %s -q --csv -n 100000 -t lpush,rpop 2>/dev/null", sock);
  FILE *f = popen (cmd, "r");
  while (f && fgets (line, sizeof line, f))
    {
      char test[32];
      double rps;
      /* "LPUSH","43215.21",... after a header line */
      if (sscanf (line, "\"%31[A-Z]\",\"%lf\"", test, &rps) == 2)
        printf ("redis-benchmark    %s %.0f requests/s\n", test, rps);
    }
  if (f)
    pclose (f);
  double exec_ms;
  {
    struct machine m0, m1;
    int k = 1000;
    machine_now (&m0);
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
    machine_now (&m1);
    exec_ms = cpu_ms (&m0, &m1) / k;
    printf ("bare fork/exec     %.0f /s one at a time; %.2f ms of CPU and %.0f page "
            "faults each (the exec floor)\n",
            k / ((m1.t - m0.t) / 1e6), exec_ms, (double) (m1.faults - m0.faults) / k);
  }
  flush (&r);

  printf ("\n== no-op jobs: claim + complete, no sandbox (the queue's own cost)\n");
  for (int t = 1; t <= 2; t++)
    {
      double rate = run_noop (&r, n * 5, t, &cpj);
      printf (
          "%d client(s)        %7.0f jobs/s   %.2f Redis round trips per job (complete, "
          "the next claim behind it)\n",
          t, rate, cpj);
      flush (&r);
    }

  printf ("\n== drain: %d jobs of /bin/true with a 4 KiB input, queued first\n", n);
  printf ("%-26s %7s %11s %10s %11s %12s %18s\n", "", "jobs/s", "CPU ms/job", "procs/job",
          "faults/job", "round trips", "RSS worker/helper");
  struct
  {
    int workers, conc, far;
  } cfgs[] = { { 1, 1, 0 }, { 2, 1, 0 }, { 1, 2, 0 }, { 1, 4, 0 }, { 1, 1, 1 } };
  struct drain sq4 = { 0 }, peer = { 0 };
  far_up ();
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    {
      struct drain d;
      char name[64];
      run_workers (&r, n, cfgs[i].workers, cfgs[i].conc, cfgs[i].far ? far_url : url, &d);
      snprintf (name, sizeof name, "sandq %d worker x %d slot%s", cfgs[i].workers,
                cfgs[i].conc, cfgs[i].far ? ", far" : "");
      printf ("%-26s %7.0f %11.2f %10.2f %11.0f %12.2f %11ld/%ld KiB   (first job %.0f "
              "ms after start)\n",
              name, d.jobs_s, d.cpu_ms_job, d.procs_job, d.faults_job, d.rtt_job, d.rss,
              d.helper_rss, d.startup_ms);
      if (cfgs[i].workers == 1 && cfgs[i].conc == 4)
        sq4 = d;
      flush (&r);
    }
  /* The peer in its best shape on this machine: 2 processes x 2 (a Node.js
   * process is single-threaded; more processes than cores did no better). */
  {
    char args[512];
    snprintf (args, sizeof args, "drain %s peer %s %d 2 2", sock, input_path, n);
    if (run_peer (args, &peer, NULL) == 0)
      printf ("%-26s %7.0f %11.2f %10.2f %11.0f\n", "BullMQ+bwrap 2 x 2", peer.jobs_s,
              peer.cpu_ms_job, peer.procs_job, peer.faults_job);
    else
      printf ("BullMQ+bwrap: %s\n", peer_why);
    flush (&r);
  }

  printf ("\n== latency, one job at a time on an idle worker, enqueue to final status\n");
  double hot[4], idle[4], far[4], phot[2] = { 0 }, pidle[2] = { 0 }, pfar[2] = { 0 };
  int nhot = 200, nidle = 30;
  sandq_latency (&r, nhot, nidle, hot, idle, far);
  {
    char args[512];
    snprintf (args, sizeof args, "latency %s plat %s %d 2", sock, input_path, nhot);
    if (run_peer (args, NULL, phot) == 0)
      {
        snprintf (args, sizeof args, "latency %s plat1 %s %d 1000", sock, input_path,
                  nidle);
        run_peer (args, NULL, pidle);
        snprintf (args, sizeof args, "latency %s pfar1 %s %d 1000", far_sock, input_path,
                  nidle);
        run_peer (args, NULL, pfar);
      }
    if (!peer_why[0])
      {
        printf ("BullMQ+bwrap, 2 ms apart                     final p50 %6.2f  p99 %6.2f "
                "ms\n",
                phot[0], phot[1]);
        printf ("BullMQ+bwrap, after 1 s idle                 final p50 %6.2f  p99 %6.2f "
                "ms\n",
                pidle[0], pidle[1]);
        printf ("BullMQ+bwrap, idle, Redis far                final p50 %6.2f  p99 %6.2f "
                "ms\n",
                pfar[0], pfar[1]);
      }
    else
      printf ("BullMQ+bwrap: %s\n", peer_why);
  }

  printf ("\n== against the targets, this run\n");
  if (peer.jobs_s > 0)
    verdict ("drain, sandq 1x4 / BullMQ+bwrap", sq4.jobs_s / peer.jobs_s, 5, 0);
  verdict ("CPU per job / exec floor", sq4.cpu_ms_job / exec_ms, 2, 1);
  if (pidle[0] > 0)
    verdict ("final p50 after 1 s idle / BullMQ+bwrap's", idle[2] / pidle[0], 0.25, 1);
  verdict ("round trips per job, sandq 1x4", sq4.rtt_job, 2.5, 1);
  verdict ("RSS MiB, worker + helper at 4 slots", (sq4.rss + sq4.helper_rss) / 1024.0, 8,
           1);
  printf ("(the CLI against bwrap: bench/sandbox-latency)\n");

  sq_redis_close (&r);
  cleanup ();
  return 0;
}
