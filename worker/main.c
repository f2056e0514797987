/* sandq-worker: pops jobs from Redis queues and runs each in a sandbox.
 *
 * The main thread is the supervisor: it renews the leases of running jobs
 * (never the sandboxed children: a busy job must not miss its renewals),
 * sends heartbeats, reaps the jobs of dead workers, and handles SIGTERM and
 * drain requests. Each slot thread runs one job at a time. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/config.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../common/version.h"
#include "metrics.h"
#include "worker.h"

static struct worker W;

static void
usage (int code, FILE *out)
{
  fprintf (
      out,
      "usage: sandq-worker [OPTION...]\n"
      "\n"
      "Pops jobs from sandq's Redis queues and runs each in a sandbox.\n"
      "\n"
      "  --redis URL        redis://[user:pass@]host:port/db, unix:///path.sock,\n"
      "                     or sentinel://host:port[,host:port]/MASTER\n"
      "                     (default: $SANDQ_REDIS_URL, the config, then\n"
      "                     redis://127.0.0.1:6379)\n"
      "  --queue Q          serve queue Q; repeat to serve several, in priority\n"
      "                     order (default: default)\n"
      "  --concurrency N    jobs at once, one sandbox each     (default 1)\n"
      "  --lease DURATION   lease per job; a dead worker's jobs run elsewhere\n"
      "                     after at most this long            (default 15s)\n"
      "  --grace DURATION   on SIGTERM, how long running jobs may finish before\n"
      "                     they are given back to the queue   (default 30s)\n"
      "  --id ID            worker id shown by 'sandq workers' (default host:pid)\n"
      "  --memory SIZE --cpu DURATION --wall DURATION --pids N --output SIZE\n"
      "  --disk SIZE --inodes N --cpus CORES\n"
      "                     default limits for jobs that set none (the\n"
      "                     sandq-sandbox defaults otherwise)\n"
      "  --max-result SIZE  cap on a result archive            (default 64M)\n"
      "  --archive-timeout DURATION\n"
      "                     how long unpacking or packing one job may take\n"
      "                     before the job fails (and is retried) (default 60s)\n"
      "  --max-reclaims N   worker deaths before a job is dead-lettered (default 3)\n"
      "  --uid-base UID     host uid of slot 0                 (default 800000)\n"
      "  --template-refresh DURATION\n"
      "                     rebuild the sandboxes' root from the host's files\n"
      "                     at least this often               (default 60s)\n"
      "  --metrics ADDR     serve Prometheus metrics on ADDR (host:port)\n"
      "  --config FILE      config file (default: $SANDQ_CONFIG or\n"
      "                     /etc/sandq/sandq.conf if it exists)\n"
      "  --log-level L      err, warning, notice, info, debug  (default info)\n"
      "  -h, --help         show this help\n"
      "  --version          show the version\n"
      "\n"
      "Signals: SIGTERM or SIGINT stop fetching, let running jobs finish for the\n"
      "grace period, then give the rest back to the queue without using up an\n"
      "attempt. Exit status: 0 after a clean stop, 1 if the worker cannot start,\n"
      "2 on a usage or configuration error (an empty password file included),\n"
      "78 if Redis refuses its password or wants one it was not given.\n");
  exit (code);
}

/* The config file whose line is being read, for errors that name it. */
static const char *opt_source;

static __attribute__ ((noreturn, format (printf, 1, 2))) void
die_usage (const char *fmt, ...)
{
  /* One line, "sandq-worker: WHAT: WHY; WHAT TO DO", as sandq's. */
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  fprintf (stderr, "sandq-worker: %s%s%s%s%s\n", opt_source ? "config file '" : "",
           opt_source ? opt_source : "", opt_source ? ": " : "", msg,
           strstr (msg, "; ") ? "" : "; see sandq-worker --help");
  exit (2);
}

static void
on_signal (int sig)
{
  (void) sig;
  W.stopping = 1;
}

/* One option, from the command line or the config file (same names). */
static void
set_option (struct worker_config *cfg, const char *name, const char *v)
{
  sq_err err = { 0 };
  uint64_t n;
  char opt[80];

  snprintf (opt, sizeof opt, "--%s", name);
  int r = netcfg_option (&cfg->net, name, v, &err);
  if (r && err.msg[0])
    die_usage ("%s", err.msg);
  if (r)
    return;
#define SIZE(field)                                                                      \
  do                                                                                     \
    {                                                                                    \
      if (sq_parse_size (v, opt, &cfg->field, &err) < 0)                                 \
        die_usage ("%s", err.msg);                                                       \
    }                                                                                    \
  while (0)
#define SECS(field)                                                                      \
  do                                                                                     \
    {                                                                                    \
      if (sq_parse_duration_ms (v, opt, &cfg->field, &err) < 0)                          \
        die_usage ("%s", err.msg);                                                       \
    }                                                                                    \
  while (0)
  if (strcmp (name, "queue") == 0 || strcmp (name, "queues") == 0)
    {
      char buf[1024], *save = NULL;
      snprintf (buf, sizeof buf, "%s", v);
      for (char *q = strtok_r (buf, ", ", &save); q; q = strtok_r (NULL, ", ", &save))
        {
          if (!sq_valid_name (q, SQ_QUEUE_MAX))
            die_usage ("--queue '%s': not a queue name; use 1-%d of [A-Za-z0-9._:-]", q,
                       SQ_QUEUE_MAX);
          if (cfg->nqueues >= SQ_MAX_QUEUES)
            die_usage ("--queue: more than %d queues", SQ_MAX_QUEUES);
          snprintf (cfg->queues[cfg->nqueues++], SQ_QUEUE_MAX + 1, "%s", q);
        }
    }
  else if (strcmp (name, "concurrency") == 0)
    {
      if (sq_parse_uint (v, opt, 1, SQ_MAX_SLOTS, &n, &err) < 0)
        die_usage ("%s", err.msg);
      cfg->concurrency = (int) n;
    }
  else if (strcmp (name, "lease") == 0)
    {
      SECS (lease_ms);
      if (cfg->lease_ms < 1000)
        die_usage ("--lease: less than 1 second");
    }
  else if (strcmp (name, "grace") == 0)
    SECS (grace_ms);
  else if (strcmp (name, "id") == 0)
    {
      if (!sq_valid_name (v, 120))
        die_usage ("--id '%s': not a worker id; use 1-120 of [A-Za-z0-9._:-]", v);
      snprintf (cfg->id, sizeof cfg->id, "%s", v);
    }
  else if (sq_limit_opt_find (name) >= 0)
    {
      enum sq_limit l = (enum sq_limit) sq_limit_opt_find (name);
      if (sq_limit_opt_parse (l, v, &n, &err) < 0)
        die_usage ("%s", err.msg);
      sbx_limits_set (&cfg->defaults, l, n);
    }
  else if (strcmp (name, "max-result") == 0 || strcmp (name, "max_result") == 0)
    SIZE (max_result_bytes);
  else if (strcmp (name, "max-reclaims") == 0 || strcmp (name, "max_reclaims") == 0)
    {
      if (sq_parse_uint (v, opt, 0, 100, &n, &err) < 0)
        die_usage ("%s", err.msg);
      cfg->max_reclaims = (int) n;
    }
  else if (strcmp (name, "uid-base") == 0 || strcmp (name, "uid_base") == 0)
    {
      if (sq_parse_uint (v, opt, 1000, 4000000000u, &n, &err) < 0)
        die_usage ("%s", err.msg);
      cfg->uid_base = (uid_t) n;
    }
  else if (strcmp (name, "archive-timeout") == 0 || strcmp (name, "archive_timeout") == 0)
    {
      SECS (archive_timeout_ms);
      if (cfg->archive_timeout_ms < 100 || cfg->archive_timeout_ms > 86400000)
        die_usage ("--archive-timeout: out of range; use 0.1s to 1d");
    }
  else if (strcmp (name, "template-refresh") == 0
           || strcmp (name, "template_refresh") == 0)
    {
      SECS (template_refresh_ms);
      if (cfg->template_refresh_ms < 100 || cfg->template_refresh_ms > 86400000)
        die_usage ("--template-refresh: out of range; use 0.1s to 1d");
    }
  else if (strcmp (name, "metrics") == 0)
    {
      struct sockaddr_in sin;
      if (metrics_parse_addr (v, &sin, &err) < 0)
        die_usage ("%s", err.msg);
      snprintf (cfg->metrics_addr, sizeof cfg->metrics_addr, "%s", v);
    }
  else if (strcmp (name, "log-level") == 0 || strcmp (name, "log_level") == 0)
    {
      int l = sq_log_level_from_name (v);
      if (l < 0)
        die_usage ("--log-level '%s': unknown; use err, warning, notice, info or debug",
                   v);
      sq_log_set_level ((enum sq_log_level) l);
    }
  else if (strcmp (name, "redis_url") == 0 || strcmp (name, "redis_password_file") == 0)
    ; /* read where the URL is resolved */
  else
    die_usage ("'%s': unknown option; the names are those of sandq-worker --help, as in "
               "concurrency = 2",
               name);
#undef SIZE
#undef SECS
}

static void
heartbeat (struct sq_proto *p)
{
  char jobs[4096] = "", now[32], busy[16], slots[16], started[32];
  size_t jl = 0;
  int nbusy = 0;
  sq_err err = { 0 };
  char queues[1024] = "";
  size_t ql = 0;

  pthread_mutex_lock (&W.lock);
  for (int i = 0; i < W.cfg.concurrency; i++)
    if (W.slots[i].state == SLOT_BUSY)
      {
        nbusy++;
        jl += snprintf (jobs + jl, jl < sizeof jobs ? sizeof jobs - jl : 0, "%s%s/%s",
                        jl ? "," : "", W.slots[i].queue, W.slots[i].id);
      }
  pthread_mutex_unlock (&W.lock);
  for (int i = 0; i < W.cfg.nqueues; i++)
    ql += snprintf (queues + ql, sizeof queues - ql, "%s%s", i ? "," : "",
                    W.cfg.queues[i]);
  uint64_t wall = sq_wall_ms ();
  snprintf (now, sizeof now, "%" PRIu64, wall);
  snprintf (busy, sizeof busy, "%d", nbusy);
  snprintf (slots, sizeof slots, "%d", W.cfg.concurrency);
  snprintf (started, sizeof started, "%" PRIu64, W.started_ms);
  char host[256] = "";
  gethostname (host, sizeof host - 1);
  char pid[16];
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  const char *state = W.stopping ? "stopping" : W.draining ? "draining" : "running";
  /* The most a job may ask of it, for sandq submit to check first. */
  char caps[512] = "";
  size_t cl = 0;
  for (int i = 0; i < SQ_LIM__COUNT; i++)
    cl += snprintf (caps + cl, cl < sizeof caps ? sizeof caps - cl : 0, "%s%s=%" PRIu64,
                    i ? "," : "", sq_limit_names[i], W.cfg.policy.max[i]);
  const char *fields[]
      = { "host",       host,    "pid",   pid,   "version",      SANDQ_VERSION,
          "slots",      slots,   "busy",  busy,  "jobs",         jobs,
          "queues",     queues,  "state", state, "heartbeat_at", now,
          "started_at", started, "caps",  caps };
  int drain = sq_worker_heartbeat (p, W.cfg.id, wall, fields,
                                   (int) SQ_ARRAY_SIZE (fields), &err);
  if (drain < 0)
    {
      W.redis_up = 0;
      return;
    }
  W.redis_up = 1;
  if (drain && !W.draining)
    {
      sq_notice ("drain requested: finishing running jobs, fetching no more");
      W.draining = 1;
    }
}

/* Queue depth and the age of the oldest waiting job, for /metrics. */
static void
queue_gauges (sq_redis *r)
{
  for (int q = 0; q < W.cfg.nqueues; q++)
    {
      struct sq_waiting wt;
      sq_err err = { 0 };
      if (sq_queue_waiting (r, W.cfg.queues[q], &wt, &err) < 0)
        return;
      pthread_mutex_lock (&W.lock);
      W.stats.queue_depth[q] = wt.total;
      W.stats.queue_oldest_ms[q] = wt.oldest_ms;
      pthread_mutex_unlock (&W.lock);
    }
}

static void
renew_leases (struct sq_proto *p)
{
  for (int q = 0; q < W.cfg.nqueues; q++)
    {
      const char *ids[SQ_MAX_SLOTS], *tokens[SQ_MAX_SLOTS];
      char idb[SQ_MAX_SLOTS][SQ_ID_MAX + 1], tokb[SQ_MAX_SLOTS][192];
      int slot_of[SQ_MAX_SLOTS], n = 0;
      enum sq_lease_state st[SQ_MAX_SLOTS];
      sq_err err = { 0 };

      pthread_mutex_lock (&W.lock);
      for (int i = 0; i < W.cfg.concurrency; i++)
        {
          struct slot *s = &W.slots[i];
          if (s->state != SLOT_BUSY || strcmp (s->queue, W.cfg.queues[q]) != 0)
            continue;
          snprintf (idb[n], sizeof idb[n], "%s", s->id);
          snprintf (tokb[n], sizeof tokb[n], "%s", s->token);
          ids[n] = idb[n];
          tokens[n] = tokb[n];
          slot_of[n++] = i;
        }
      pthread_mutex_unlock (&W.lock);
      if (!n)
        continue;
      if (sq_renew (p, W.cfg.queues[q], W.cfg.lease_ms, n, ids, tokens, st, &err) < 0)
        {
          sq_warn ("renew leases: %s", err.msg);
          continue;
        }
      pthread_mutex_lock (&W.lock);
      for (int k = 0; k < n; k++)
        {
          struct slot *s = &W.slots[slot_of[k]];
          if (strcmp (s->id, idb[k]) != 0 || st[k] == SQ_LEASE_OK)
            continue;
          if (st[k] == SQ_LEASE_CANCEL && !s->cancel)
            {
              sq_notice ("job %s: cancelled, stopping it", s->id);
              s->cancel = 1;
            }
          else if (st[k] == SQ_LEASE_LOST && !s->lost)
            {
              sq_warn ("job %s: lease lost (taken over); stopping it", s->id);
              s->lost = 1;
            }
          if (s->sbx)
            sbx_cancel (s->sbx);
        }
      pthread_mutex_unlock (&W.lock);
    }
}

static void
reap (struct sq_proto *p)
{
  for (int q = 0; q < W.cfg.nqueues; q++)
    {
      long long c[3];
      sq_err err = { 0 };
      if (sq_reap (p, W.cfg.queues[q], W.cfg.max_reclaims, c, &err) < 0)
        continue;
      if (c[0] || c[1] || c[2])
        sq_notice ("queue %s: requeued %lld job(s) of dead workers, dead-lettered "
                   "%lld, finished %lld cancelled",
                   W.cfg.queues[q], c[0], c[1], c[2]);
      pthread_mutex_lock (&W.lock);
      W.stats.reclaims_seen += (uint64_t) c[0];
      pthread_mutex_unlock (&W.lock);
    }
}

static int
busy_slots (void)
{
  int n = 0;
  pthread_mutex_lock (&W.lock);
  for (int i = 0; i < W.cfg.concurrency; i++)
    n += W.slots[i].state == SLOT_BUSY;
  pthread_mutex_unlock (&W.lock);
  return n;
}

/* getopt's codes for the limit options (set_option takes them by name). */
#define LIMIT_OPT 1000

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "redis", required_argument, 0, 'r' },
    { "queue", required_argument, 0, 'q' },
    { "concurrency", required_argument, 0, 'c' },
    { "lease", required_argument, 0, 1 },
    { "grace", required_argument, 0, 1 },
    { "id", required_argument, 0, 1 },
    SQ_LIMIT_LONG_OPTIONS (LIMIT_OPT),
    { "max-result", required_argument, 0, 1 },
    { "template-refresh", required_argument, 0, 1 },
    { "archive-timeout", required_argument, 0, 1 },
    { "max-reclaims", required_argument, 0, 1 },
    { "uid-base", required_argument, 0, 1 },
    { "metrics", required_argument, 0, 1 },
    { "log-level", required_argument, 0, 1 },
    { "config", required_argument, 0, 'C' },
    { "help", no_argument, 0, 'h' },
    { "version", no_argument, 0, 'V' },
    { 0, 0, 0, 0 },
  };
  struct worker_config *cfg = &W.cfg;
  const char *redis_flag = NULL, *config_path = NULL;
  struct sq_config conf;
  sq_err err = { 0 };
  int c, idx;
  char redacted[600];

  sq_log_init ("sandq-worker");
  memset (&W, 0, sizeof W);
  cfg->concurrency = 1;
  cfg->lease_ms = SQ_DEFAULT_LEASE_MS;
  cfg->grace_ms = 30000;
  cfg->max_result_bytes = SQ_MAX_RESULT_BYTES;
  cfg->max_reclaims = SQ_DEFAULT_MAX_RECLAIMS;
  sbx_limits_default (&cfg->defaults);
  sq_spec_policy_default (&cfg->policy);

  /* The config file first, so that the command line overrides it. */
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
      config_path = argv[i + 1];
    else if (strncmp (argv[i], "--config=", 9) == 0)
      config_path = argv[i] + 9;
  if (sq_config_load (&conf, config_path, &err) < 0)
    die_usage ("%s", err.msg);
  for (int i = 0; i < conf.n; i++)
    {
      static char where[600];
      snprintf (where, sizeof where, "%.512s' line %d", conf.path, conf.e[i].line);
      opt_source = where;
      set_option (cfg, conf.e[i].key, conf.e[i].value);
      opt_source = NULL;
    }
  int queues_from_config = cfg->nqueues;

  opterr = 0;
  while ((c = getopt_long (argc, argv, "h", opts, &idx)) != -1)
    switch (c)
      {
      case 'r':
        redis_flag = optarg;
        break;
      case 'q':
        if (queues_from_config)
          cfg->nqueues = queues_from_config = 0;
        set_option (cfg, "queue", optarg);
        break;
      case 'c':
        set_option (cfg, "concurrency", optarg);
        break;
      case 'C':
        break;
      case 1:
      case LIMIT_OPT ... LIMIT_OPT + SQ_LIM__COUNT - 1:
        set_option (cfg, opts[idx].name, optarg);
        break;
      case 'h':
        usage (0, stdout);
        break;
      case 'V':
        printf ("sandq-worker %s\n", SANDQ_VERSION);
        return 0;
      default:
        die_usage ("'%s': unknown option, or its value is missing", argv[optind - 1]);
      }
  if (optind < argc)
    die_usage ("'%s': unexpected argument; sandq-worker takes options only",
               argv[optind]);
  if (cfg->nqueues == 0)
    set_option (cfg, "queue", SQ_DEFAULT_QUEUE);
  if (!cfg->id[0])
    {
      char host[200] = "host";
      gethostname (host, sizeof host - 1);
      snprintf (cfg->id, sizeof cfg->id, "%.100s:%d", host, (int) getpid ());
    }
  if (sbx_limits_check (&cfg->defaults, &err) < 0)
    die_usage ("%s", err.msg);
  if (netcfg_check (&cfg->net, &err) < 0)
    die_usage ("%s", err.msg);
  snprintf (cfg->redis_url, sizeof cfg->redis_url, "%s",
            sq_config_redis_url (&conf, redis_flag));
  struct sq_redis_addr addr;
  if (sq_redis_parse_url (cfg->redis_url, &addr, &err) < 0)
    die_usage ("%s", err.msg);
  char pw[256];
  int havepw = sq_config_redis_password (&conf, pw, sizeof pw, &err);
  if (havepw < 0)
    die_usage ("%s", err.msg);
  if (havepw && !addr.password[0])
    {
      /* Put the password into the URL the slots parse; it never appears in
       * a log line (see sq_redis_url_redacted). */
      char *at = strstr (cfg->redis_url, "://");
      char rest[1024];
      snprintf (rest, sizeof rest, "%s", at + 3);
      snprintf (at + 3, sizeof cfg->redis_url - (at + 3 - cfg->redis_url), ":%s@%s", pw,
                rest);
      sq_redis_parse_url (cfg->redis_url, &addr, &err);
    }
  sq_redis_url_redacted (&addr, redacted, sizeof redacted);
  sq_config_free (&conf);
  {
    /* A password Redis refuses is the configuration's fault, which no
     * retry mends: say so and stop, instead of retrying until the service
     * manager's start timeout. An unreachable Redis is waited for. */
    sq_redis probe = { .timeout_ms = 2000, .addr = addr };
    if (sq_redis_connect (&probe, &err) < 0 && probe.auth_failed)
      {
        sq_err_log ("cannot authenticate to Redis: %s", err.msg);
        metrics_failed ("cannot authenticate to Redis: %s", err.msg);
        return SQ_WORKER_EXIT_AUTH;
      }
    sq_redis_close (&probe);
  }

  struct sbx_host_config hc = {
    .uid_base = cfg->uid_base,
    .reuse_netns = 1,
    .prefetch_count = (unsigned) cfg->concurrency,
    .template_max_age_ms = cfg->template_refresh_ms,
  };
  W.host = sbx_host_new (&hc, &err);
  if (!W.host)
    {
      sq_err_log ("cannot set up sandboxes: %s", err.msg);
      return 1;
    }
  /* Every sandbox and archive job process of a slot joins the slot's
   * network namespace: without one, no job could run. */
  if (sbx_slot_netns (W.host, 0, &err) < 0)
    {
      sq_err_log ("cannot set up sandboxes: %s", err.msg);
      sbx_host_free (W.host);
      return 1;
    }
  W.archiver.timeout_ms = (unsigned) cfg->archive_timeout_ms;
  if (arc_helper_start (&W.archiver, &err) < 0)
    {
      sq_err_log ("cannot start the archive helper: %s", err.msg);
      sbx_host_free (W.host);
      return 1;
    }
  pthread_mutex_init (&W.lock, NULL);
  W.started_ms = sq_wall_ms ();
  signal (SIGPIPE, SIG_IGN);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  char qlist[1024] = "";
  for (int i = 0, n = 0; i < cfg->nqueues; i++)
    n += snprintf (qlist + n, sizeof qlist - n, "%s%s", i ? "," : "", cfg->queues[i]);
  sq_notice ("sandq-worker %s id=%s redis=%s queues=%s concurrency=%d lease=%" PRIu64
             "ms; %s",
             SANDQ_VERSION, cfg->id, redacted, qlist, cfg->concurrency, cfg->lease_ms,
             sbx_host_describe (W.host));

  struct metrics *m = NULL;
  if (cfg->metrics_addr[0])
    {
      m = metrics_start (&W, cfg->metrics_addr, &err);
      if (!m)
        {
          sq_err_log ("metrics: %s", err.msg);
          arc_helper_stop (&W.archiver);
          sbx_host_free (W.host);
          return 1;
        }
    }

  for (int i = 0; i < cfg->concurrency; i++)
    {
      W.slots[i].w = &W;
      W.slots[i].idx = i;
      W.slots[i].live_fd[0] = W.slots[i].live_fd[1] = -1;
      pthread_create (&W.slots[i].thread, NULL, slot_main, &W.slots[i]);
    }

  sq_redis r = { .timeout_ms = 2000 };
  struct sq_proto p;
  r.addr = addr;
  sq_proto_init (&p, &r);
  uint64_t renew_every = cfg->lease_ms / 3 < 2000 ? cfg->lease_ms / 3 : 2000;
  uint64_t reap_every = cfg->lease_ms / 2;
  uint64_t next_renew = 0, next_beat = 0, next_reap = 0, next_live = 0, stop_at = 0;
  int notified_ready = 0;

  for (;;)
    {
      uint64_t now = sq_now_ms ();
      if ((W.stopping || W.draining) && !stop_at)
        {
          stop_at = now + cfg->grace_ms;
          sq_notice ("%s: waiting up to %" PRIu64 " ms for %d running job(s)",
                     W.stopping ? "stopping" : "draining", cfg->grace_ms, busy_slots ());
        }
      if (stop_at && busy_slots () == 0)
        break;
      if (stop_at && now >= stop_at && !W.releasing)
        {
          sq_notice ("grace period over: giving %d job(s) back to the queue",
                     busy_slots ());
          W.releasing = 1;
          pthread_mutex_lock (&W.lock);
          for (int i = 0; i < cfg->concurrency; i++)
            if (W.slots[i].state == SLOT_BUSY)
              {
                W.slots[i].release = 1;
                if (W.slots[i].sbx)
                  sbx_cancel (W.slots[i].sbx);
              }
          pthread_mutex_unlock (&W.lock);
        }
      if (now >= next_renew)
        {
          renew_leases (&p);
          next_renew = now + renew_every;
        }
      if (now >= next_live)
        {
          live_publish (&W, &p);
          next_live = now + 500;
        }
      if (now >= next_beat)
        {
          heartbeat (&p);
          queue_gauges (&r);
          next_beat = now + 2000;
          if (!notified_ready && W.redis_up)
            {
              metrics_ready (&W);
              notified_ready = 1;
            }
          metrics_status (&W, busy_slots ());
        }
      if (now >= next_reap && !W.stopping)
        {
          reap (&p);
          next_reap = now + reap_every;
        }
      struct timespec ts = { 0, 100 * 1000000 };
      nanosleep (&ts, NULL);
    }
  metrics_stopping ();
  /* The slots notice stopping/draining within a second (BLPOP timeout). */
  for (int i = 0; i < cfg->concurrency; i++)
    pthread_join (W.slots[i].thread, NULL);
  sq_worker_forget (&r, cfg->id, &err);
  sq_redis_close (&r);
  metrics_stop (m);
  arc_helper_stop (&W.archiver);
  sbx_host_free (W.host);
  uint64_t jobs = 0;
  for (int i = 0; i < SQ_STATUS__COUNT; i++)
    jobs += W.stats.jobs_by_status[i];
  sq_notice ("stopped after %" PRIu64 " job(s); redis_commands slots=%" PRIu64
             " supervisor=%llu",
             jobs, W.stats.slot_commands, r.ncommands);
  return 0;
}
