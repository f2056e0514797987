/* sandq-worker's configuration: the config file, then the command line
 * (the same option names), checked before anything starts. A bad option
 * stops the worker with one line naming it (exit 2). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../common/version.h"
#include "metrics.h"
#include "worker.h"

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
  char where[700] = "";
  va_list ap;
  if (opt_source)
    snprintf (where, sizeof where, "config file '%s: ", opt_source);
  va_start (ap, fmt);
  sq_vrefuse (2, "sandq-worker", "sandq-worker", where, fmt, ap);
}

/* "a, b c": queues to serve, in priority order. */
static void
add_queues (struct worker_config *cfg, const char *v)
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

/* A period from a tenth of a second to a day. */
static void
in_day (uint64_t ms, const char *opt)
{
  if (ms < 100 || ms > 86400000)
    die_usage ("%s: out of range; use 0.1s to 1d", opt);
}

/* A size or a duration option's value into cfg->field; exits on a bad
 * one. (cfg, v, opt and err are the caller's.) */
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

/* The options of the worker's size: slots, the jobs' default limits, the
 * result cap, reclaims, uids. 1 if name is one of them (set from v, or
 * exit on a bad value), else 0. */
static int
set_capacity (struct worker_config *cfg, const char *name, const char *v, const char *opt)
{
  sq_err err = { 0 };
  uint64_t n;

  if (strcmp (name, "concurrency") == 0)
    {
      if (sq_parse_uint (v, opt, 1, SQ_MAX_SLOTS, &n, &err) < 0)
        die_usage ("%s", err.msg);
      cfg->concurrency = (int) n;
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
  else
    return 0;
  return 1;
}

/* The worker's timings: lease, grace, the archive helper's timeout, the
 * template's refresh. 1 if name is one of them, else 0. */
static int
set_timing (struct worker_config *cfg, const char *name, const char *v, const char *opt)
{
  sq_err err = { 0 };

  if (strcmp (name, "lease") == 0)
    {
      SECS (lease_ms);
      if (cfg->lease_ms < 1000)
        die_usage ("--lease: less than 1 second");
    }
  else if (strcmp (name, "grace") == 0)
    SECS (grace_ms);
  else if (strcmp (name, "archive-timeout") == 0 || strcmp (name, "archive_timeout") == 0)
    {
      SECS (archive_timeout_ms);
      in_day (cfg->archive_timeout_ms, opt);
    }
  else if (strcmp (name, "template-refresh") == 0
           || strcmp (name, "template_refresh") == 0)
    {
      SECS (template_refresh_ms);
      in_day (cfg->template_refresh_ms, opt);
    }
  else
    return 0;
  return 1;
}
#undef SIZE
#undef SECS

/* One option, from the command line or the config file (same names). */
static void
set_option (struct worker_config *cfg, const char *name, const char *v)
{
  sq_err err = { 0 };
  char opt[80];

  snprintf (opt, sizeof opt, "--%s", name);
  int r = netcfg_option (&cfg->net, name, v, &err);
  if (r && err.msg[0])
    die_usage ("%s", err.msg);
  if (r || set_capacity (cfg, name, v, opt) || set_timing (cfg, name, v, opt))
    return;
  if (strcmp (name, "queue") == 0 || strcmp (name, "queues") == 0)
    add_queues (cfg, v);
  else if (strcmp (name, "id") == 0)
    {
      if (!sq_valid_name (v, 120))
        die_usage ("--id '%s': not a worker id; use 1-120 of [A-Za-z0-9._:-]", v);
      snprintf (cfg->id, sizeof cfg->id, "%s", v);
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
  else if (strcmp (name, "redis_url") == 0 || strcmp (name, "redis_password_file") == 0
           || strcmp (name, "redis_user") == 0)
    ; /* read where the URL is resolved */
  else
    die_usage ("'%s': unknown option; the names are those of sandq-worker --help, as in "
               "concurrency = 2",
               name);
}

/* getopt's codes for the limit options (set_option takes them by name). */
#define LIMIT_OPT 1000

/* s with every byte but [A-Za-z0-9._~-] as %XX, for a URL's user or
 * password. */
static void
pct_encode (const char *s, char *out, size_t len)
{
  size_t o = 0;
  for (; *s && o + 4 < len; s++)
    {
      unsigned char ch = (unsigned char) *s;
      if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
          || strchr ("._~-", ch))
        out[o++] = (char) ch;
      else
        o += (size_t) snprintf (out + o, len - o, "%%%02X", ch);
    }
  out[o] = '\0';
}

/* The user (redis_user, SANDQ_REDIS_USER) and the password of
 * redis_password_file go into the URL the slots parse; the password never
 * appears in a log line (see sq_redis_url_redacted). */
static void
add_password (struct worker_config *cfg, const struct sq_config *conf,
              struct sq_redis_addr *addr)
{
  sq_err err = { 0 };
  char pw[256], epw[800], euser[400] = "";
  int havepw = sq_config_redis_password (conf, pw, sizeof pw, &err);
  const char *user = sq_config_redis_user (conf);
  if (havepw < 0)
    die_usage ("%s", err.msg);
  if (user && !addr->user[0] && !addr->password[0] && !havepw)
    die_usage ("Redis user '%s' (redis_user or SANDQ_REDIS_USER) has no password: write "
               "it to the file redis_password_file names, or the credential "
               "redis-password",
               user);
  int add_user = user && !addr->user[0];
  if ((havepw && !addr->password[0]) || (add_user && addr->password[0]))
    {
      /* The URL's own "user:password@" (if any) is rewritten whole. */
      char *at = strstr (cfg->redis_url, "://");
      char rest[1024];
      const char *host = at + 3, *sl = strchr (host, '/'), *a = strchr (host, '@');
      if (a && (!sl || a < sl))
        host = a + 1;
      snprintf (rest, sizeof rest, "%s", host);
      pct_encode (addr->password[0] ? addr->password : pw, epw, sizeof epw);
      pct_encode (add_user ? user : addr->user, euser, sizeof euser);
      snprintf (at + 3, sizeof cfg->redis_url - (at + 3 - cfg->redis_url), "%s:%s@%s",
                euser, epw, rest);
      if (sq_redis_parse_url (cfg->redis_url, addr, &err) < 0)
        die_usage ("redis_url with redis_user and redis_password_file: %s", err.msg);
    }
}

/* The config file first, so that the command line overrides it. */
static void
load_file (struct worker_config *cfg, int argc, char **argv, struct sq_config *conf)
{
  const char *config_path = NULL;
  sq_err err = { 0 };
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
      config_path = argv[i + 1];
    else if (strncmp (argv[i], "--config=", 9) == 0)
      config_path = argv[i] + 9;
  if (sq_config_load (conf, config_path, &err) < 0)
    die_usage ("%s", err.msg);
  for (int i = 0; i < conf->n; i++)
    {
      static char where[600];
      snprintf (where, sizeof where, "%.512s' line %d", conf->path, conf->e[i].line);
      opt_source = where;
      set_option (cfg, conf->e[i].key, conf->e[i].value);
      opt_source = NULL;
    }
}

void
worker_configure (struct worker_config *cfg, int argc, char **argv,
                  struct sq_redis_addr *addr)
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
  const char *redis_flag = NULL;
  struct sq_config conf;
  sq_err err = { 0 };
  int c, idx;

  cfg->concurrency = 1;
  cfg->lease_ms = SQ_DEFAULT_LEASE_MS;
  cfg->grace_ms = 30000;
  cfg->max_result_bytes = SQ_MAX_RESULT_BYTES;
  cfg->max_reclaims = SQ_DEFAULT_MAX_RECLAIMS;
  sbx_limits_default (&cfg->defaults);
  sq_spec_policy_default (&cfg->policy);
  load_file (cfg, argc, argv, &conf);
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
        exit (0);
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
  if (sq_redis_parse_url (cfg->redis_url, addr, &err) < 0)
    die_usage ("%s", err.msg);
  add_password (cfg, &conf, addr);
  sq_config_free (&conf);
}
