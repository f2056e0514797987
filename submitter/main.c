/* sandq: submit jobs to a sandq queue and follow them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../common/util.h"
#include "../common/version.h"
#include "cli.h"

static const struct command commands[] = {
  { "submit", cmd_submit, "pack inputs, queue a job, print its id", "submitter" },
  { "status", cmd_status, "state, verdict, figures and timestamps of a job",
    "submitter or operator" },
  { "wait", cmd_wait, "block until a job is final", "submitter or operator" },
  { "result", cmd_result, "download and safely extract a job's result archive",
    "submitter" },
  { "logs", cmd_logs, "print a job's captured stdout and stderr", "submitter" },
  { "cancel", cmd_cancel, "cancel a queued or running job", "submitter or operator" },
  { "stats", cmd_stats, "queues, workers and Redis memory", "operator" },
  { "dead", cmd_dead, "the dead-letter set: list, show, retry, purge", "operator" },
  { "workers", cmd_workers, "live workers, their slots and jobs", "operator" },
  { "drain", cmd_drain, "stop a worker fetching; it exits when idle", "operator" },
  { "pause", cmd_pause, "stop every worker fetching from a queue", "operator" },
  { "resume", cmd_resume, "let workers fetch from a paused queue again", "operator" },
  { "acl", cmd_acl, "print Redis ACL rules for roles and teams", NULL },
  { "keygen", cmd_keygen, "make a key pair for sealed results", NULL },
  { "mcp", cmd_mcp, "serve run_python and run_shell to agents (MCP, stdio)",
    "submitter" },
  { NULL, NULL, NULL, NULL },
};

static void
usage (int code, FILE *out)
{
  fprintf (out, "usage: sandq [--redis URL] [--config FILE] COMMAND [ARG...]\n\n"
                "Commands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf (out, "  %-8s %s\n", c->name, c->summary);
  fprintf (
      out,
      "\n"
      "Every command takes --help, --json (for scripts), --redis URL, --config\n"
      "FILE and --queue Q. Redis is found at --redis, else $SANDQ_REDIS_URL, else\n"
      "redis_url in the config ($SANDQ_CONFIG or /etc/sandq/sandq.conf), else\n"
      "redis://127.0.0.1:6379. URLs: redis://[user:password@]host:port/db,\n"
      "unix:///path/to.sock, sentinel://host:port[,host:port]/MASTER. A password\n"
      "can live in redis_password_file instead of a URL.\n"
      "\n"
      "With Redis ACLs, log in as redis_user (or $SANDQ_REDIS_USER) with the\n"
      "password of redis_password_file; each command's --help names the role it\n"
      "needs (sandq acl prints the roles' rules).\n"
      "\n"
      "Exit status: 0 success (with --wait: the verdict is ok); 1 the job's verdict\n"
      "is not ok; 2 usage or bad input; 3 Redis or local failure; 4 no such job;\n"
      "5 timed out waiting; 6 the Redis user lacks a permission the command needs.\n");
  exit (code);
}

/* The command being run, for the "see sandq CMD --help" of usage errors
 * and the role a refusal names; its Redis connection, to tell a refusal. */
static const char *cli_cmd;
static const char *cli_role;
static const struct cli *cli_state;

int
cli_failed (const char *msg)
{
  /* Redis refused a command or key to this user: name the role that may. */
  if (cli_state && cli_state->r.denied)
    {
      fprintf (stderr,
               "sandq: %s; 'sandq %s' needs a Redis user with the %s role (see "
               "sandq acl --help)\n",
               msg, cli_cmd ? cli_cmd : "", cli_role ? cli_role : "operator");
      return SQ_EXIT_DENIED;
    }
  fprintf (stderr, "sandq: %s\n", msg);
  /* A sealed result without the key that opens it: the caller's input. */
  return cli_state && cli_state->sealed ? SQ_EXIT_USAGE : SQ_EXIT_FAILURE;
}

/* Every refusal is one line, "sandq: WHAT: WHY; WHAT TO DO". A usage error
 * whose message gives no advice of its own points at the command's help. */
void
cli_die (int code, const char *fmt, ...)
{
  char help[64], msg[1024];
  va_list ap;
  snprintf (help, sizeof help, "sandq%s%s", cli_cmd ? " " : "", cli_cmd ? cli_cmd : "");
  va_start (ap, fmt);
  if (code == SQ_EXIT_FAILURE)
    {
      vsnprintf (msg, sizeof msg, fmt, ap);
      va_end (ap);
      exit (cli_failed (msg));
    }
  sq_vrefuse (code, "sandq", code == SQ_EXIT_USAGE ? help : NULL, "", fmt, ap);
}

/* A command's help, and the role it needs. */
static void
print_help (const char *text)
{
  fputs (text, stdout);
  if (cli_role)
    printf ("\nRedis role: %s (see sandq acl --help).\n", cli_role);
  exit (0);
}

void
cli_help_if_asked (int argc, char **argv, const char *text)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        break;
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        print_help (text);
    }
}

int
cli_common_opt (struct cli *c, int opt, const char *arg, const char *help)
{
  switch (opt)
    {
    case OPT_REDIS:
      c->redis_flag = arg;
      return 1;
    case OPT_CONFIG:
      c->config_path = arg;
      return 1;
    case OPT_JSON:
      c->json = 1;
      return 1;
    case OPT_KEY:
      c->key_path = arg;
      return 1;
    case OPT_QUEUE:
      if (!sq_valid_name (arg, SQ_QUEUE_MAX))
        cli_die (SQ_EXIT_USAGE,
                 "--queue '%s': not a queue name; use 1-%d of [A-Za-z0-9._:-]", arg,
                 SQ_QUEUE_MAX);
      c->queue = arg;
      return 1;
    case 'h':
      print_help (help);
    }
  return 0;
}

int
cli_getopt (struct cli *c, int argc, char **argv, const struct option *opts,
            const char *help, int (*extra) (struct cli *, int, const char *, void *),
            void *ctx)
{
  int o;
  optind = 1;
  opterr = 0;
  /* Options may follow positional words ("dead list --json"); submit stops
   * getopt at "--" itself by passing only what comes before it. */
  while ((o = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    {
      if (cli_common_opt (c, o, optarg, help))
        continue;
      if (o != '?' && extra && extra (c, o, optarg, ctx))
        continue;
      cli_die (SQ_EXIT_USAGE, "%s: '%s': unknown option, or its value is missing",
               argv[0], argv[optind - 1]);
    }
  return optind;
}

void
cli_connect (struct cli *c)
{
  sq_err err = { 0 };
  char pw[256];
  int havepw;

  if (c->connected)
    return;
  if (sq_config_load (&c->conf, c->config_path, &err) < 0)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  if (sq_redis_parse_url (sq_config_redis_url (&c->conf, c->redis_flag), &c->r.addr, &err)
      < 0)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  havepw = sq_config_redis_password (&c->conf, pw, sizeof pw, &err);
  if (havepw < 0)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  if (havepw && !c->r.addr.password[0])
    snprintf (c->r.addr.password, sizeof c->r.addr.password, "%s", pw);
  const char *user = sq_config_redis_user (&c->conf);
  if (user && !c->r.addr.user[0])
    {
      if (!sq_valid_name (user, sizeof c->r.addr.user - 1))
        cli_die (SQ_EXIT_USAGE,
                 "Redis user '%.80s' (SANDQ_REDIS_USER or redis_user): not "
                 "a user name; use 1-127 of [A-Za-z0-9._:-]",
                 user);
      if (!c->r.addr.password[0])
        cli_die (SQ_EXIT_USAGE,
                 "Redis user '%s' has no password: write it to the file "
                 "redis_password_file names, or the credential redis-password",
                 user);
      snprintf (c->r.addr.user, sizeof c->r.addr.user, "%s", user);
    }
  c->r.timeout_ms = 10000;
  if (sq_redis_connect (&c->r, &err) < 0)
    cli_die (SQ_EXIT_FAILURE,
             "%s; check that Redis runs there, or name another with --redis or "
             "SANDQ_REDIS_URL",
             err.msg);
  sq_proto_init (&c->p, &c->r);
  c->connected = 1;
}

void
cli_job_queue (struct cli *c, const char *id, char *queue, size_t len)
{
  sq_err err = { 0 };
  if (!sq_valid_name (id, SQ_ID_MAX))
    cli_die (
        SQ_EXIT_USAGE,
        "job ID '%.80s': not a job ID; use 1-128 of [A-Za-z0-9._:-], as QUEUE/ID or ID",
        id);
  if (c->queue)
    {
      snprintf (queue, len, "%s", c->queue);
      return;
    }
  if (sq_find_queue (&c->r, id, SQ_DEFAULT_QUEUE, queue, len, &err) < 0)
    cli_die (SQ_EXIT_FAILURE,
             c->r.denied ? "job '%s': %s; name its queue with --queue, as QUEUE/ID, or "
                           "with SANDQ_QUEUE"
                         : "job '%s': %s",
             id, err.msg);
}

static const char *const numeric_fields[] = {
  "created_at",        "expires_at",   "started_at",   "finished_at",
  "attempts",          "reclaims",     "max_attempts", "input_bytes",
  "exit_code",         "signal",       "wall_ms",      "cpu_ms",
  "memory_peak_bytes", "stdout_bytes", "stderr_bytes", "result_bytes",
  "out_files",         "unpack_ms",    "keep_s",       "lease_until",
  "net_refused",       "disk_bytes",   NULL,
};

json_t *
cli_json_text (const char *data, size_t len)
{
  const unsigned char *p = (const unsigned char *) data;
  size_t n, out = 0;
  char *buf;
  json_t *s;

  s = json_stringn (data, len); /* NULL when not valid UTF-8 */
  if (s)
    return s;
  buf = malloc (len * 3);
  if (!buf)
    cli_die (
        SQ_EXIT_FAILURE,
        "the job's output: out of memory; fetch it with sandq logs on a larger machine");
  for (size_t i = 0; i < len; i += n)
    {
      n = sq_utf8_seq (p + i, len - i);
      if (n == 0)
        {
          memcpy (buf + out, "\xef\xbf\xbd", 3);
          out += 3;
          n = 1;
        }
      else
        {
          memcpy (buf + out, p + i, n);
          out += n;
        }
    }
  s = json_stringn (buf, out);
  free (buf);
  return s;
}

json_t *
cli_job_json (struct cli *c, const char *queue, const char *id)
{
  sq_err err = { 0 };
  redisReply *rep;
  json_t *o;

  rep = sq_job_get (&c->r, queue, id, &err);
  if (!rep)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
    {
      freeReplyObject (rep);
      return NULL;
    }
  o = json_object ();
  for (size_t i = 0; i + 1 < rep->elements; i += 2)
    {
      const char *k = rep->element[i]->str, *v = rep->element[i + 1]->str;
      int numeric = 0;
      if (strcmp (k, "fence") == 0 || strcmp (k, "lease") == 0)
        continue; /* internals of the protocol */
      for (int j = 0; numeric_fields[j]; j++)
        numeric |= strcmp (k, numeric_fields[j]) == 0;
      if (strcmp (k, "spec") == 0)
        {
          json_t *spec = json_loads (v, 0, NULL);
          json_object_set_new (o, k,
                               spec ? spec : cli_json_text (v, rep->element[i + 1]->len));
        }
      else if (strcmp (k, "priority") == 0)
        json_object_set_new (o, k, json_string (sq_priority_name (atoi (v))));
      else if (numeric)
        json_object_set_new (o, k, json_integer (strtoll (v, NULL, 10)));
      else
        json_object_set_new (o, k, cli_json_text (v, rep->element[i + 1]->len));
    }
  freeReplyObject (rep);
  return o;
}

static void
print_time (const char *label, json_t *v)
{
  time_t t;
  struct tm tm;
  char buf[64];
  if (!json_is_integer (v) || json_integer_value (v) <= 0)
    return;
  t = (time_t) (json_integer_value (v) / 1000);
  gmtime_r (&t, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  printf ("%-13s %s\n", label, buf);
}

const char *
cli_term_text (const char *s, char *buf, size_t len)
{
  size_t o = 0;

  if (!s)
    s = "";
  for (size_t i = 0; s[i] && o + 5 < len; i++)
    {
      unsigned char ch = (unsigned char) s[i];
      /* C1 controls in UTF-8 are 0xc2 0x80..0x9f. */
      int c1 = ch == 0xc2 && (unsigned char) s[i + 1] >= 0x80
               && (unsigned char) s[i + 1] <= 0x9f;
      if (ch < 0x20 || ch == 0x7f || c1)
        {
          o += (size_t) snprintf (buf + o, len - o, "\\x%02x",
                                  c1 ? (unsigned char) s[++i] : ch);
          continue;
        }
      buf[o++] = (char) ch;
    }
  buf[o] = '\0';
  return buf;
}

void
cli_print_job (struct cli *c, json_t *job)
{
  char t[4 * SQ_ERR_MSG_MAX + 16];
  json_t *v;

  if (c->json)
    {
      json_dumpf (job, stdout, JSON_COMPACT | JSON_SORT_KEYS);
      putchar ('\n');
      return;
    }
  /* Every string here may hold what a job wrote or named (a command, an
   * error message quoting it): control characters are shown escaped,
   * never sent to the terminal. */
  printf ("%-13s %s\n", "id",
          cli_term_text (json_string_value (json_object_get (job, "id")), t, sizeof t));
  printf (
      "%-13s %s\n", "queue",
      cli_term_text (json_string_value (json_object_get (job, "queue")), t, sizeof t));
  printf (
      "%-13s %s\n", "state",
      cli_term_text (json_string_value (json_object_get (job, "state")), t, sizeof t));
  if ((v = json_object_get (job, "status")))
    printf ("%-13s %s\n", "status", cli_term_text (json_string_value (v), t, sizeof t));
  if ((v = json_object_get (job, "message")))
    printf ("%-13s %s\n", "message", cli_term_text (json_string_value (v), t, sizeof t));
  print_time ("submitted", json_object_get (job, "created_at"));
  print_time ("started", json_object_get (job, "started_at"));
  print_time ("finished", json_object_get (job, "finished_at"));
  static const char *const shown[] = {
    "exit_code",    "signal",       "wall_ms",    "cpu_ms",       "memory_peak_bytes",
    "stdout_bytes", "stderr_bytes", "disk_bytes", "result_bytes", "out_files",
    "attempts",     "reclaims",     "worker",     "priority",     "last_error",
    "net_refused",  NULL,
  };
  for (int i = 0; shown[i]; i++)
    if ((v = json_object_get (job, shown[i])))
      {
        if (json_is_integer (v))
          printf ("%-13s %lld\n", shown[i], (long long) json_integer_value (v));
        else
          printf ("%-13s %s\n", shown[i],
                  cli_term_text (json_string_value (v), t, sizeof t));
      }
}

int
cli_status_code (json_t *job)
{
  const char *s = json_string_value (json_object_get (job, "status"));
  return s && strcmp (s, "ok") == 0 ? SQ_EXIT_OK : SQ_EXIT_VERDICT;
}

/* What was written to stdout reached it, or the exit status says it did
 * not: a full disk under `sandq logs > file` must not pass for success
 * (stdio reports a failed write only at a flush). A reader that went away
 * (`| head`) is no failure. */
static void
close_stdout (void)
{
  if (fflush (stdout) == 0 && !ferror (stdout))
    return;
  if (errno == EPIPE)
    _exit (SQ_EXIT_OK);
  fprintf (stderr, "sandq: write to standard output: %s; the output is incomplete\n",
           strerror (errno));
  _exit (SQ_EXIT_FAILURE);
}

int
main (int argc, char **argv)
{
  struct cli c = { 0 };
  int i = 1;

  atexit (close_stdout);
  sq_log_init ("sandq");
  sq_archive_locale (1);
  while (i < argc && argv[i][0] == '-')
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        usage (0, stdout);
      else if (strcmp (argv[i], "--version") == 0)
        {
          printf ("sandq %s\n", SANDQ_VERSION);
          return 0;
        }
      else if (strcmp (argv[i], "--redis") == 0 && i + 1 < argc)
        c.redis_flag = argv[++i];
      else if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
        c.config_path = argv[++i];
      else if (strcmp (argv[i], "--json") == 0)
        c.json = 1;
      else
        cli_die (SQ_EXIT_USAGE, "'%s': unknown option", argv[i]);
      i++;
    }
  if (i >= argc)
    usage (SQ_EXIT_USAGE, stderr);
  const char *key = getenv ("SANDQ_KEY");
  if (key && *key)
    c.key_path = key;
  /* The queue of commands without --queue (a team's, say). */
  const char *envq = getenv ("SANDQ_QUEUE");
  if (envq && *envq)
    {
      if (!sq_valid_name (envq, SQ_QUEUE_MAX))
        cli_die (SQ_EXIT_USAGE,
                 "SANDQ_QUEUE '%.80s': not a queue name; use 1-%d of [A-Za-z0-9._:-]",
                 envq, SQ_QUEUE_MAX);
      c.queue = envq;
    }
  for (const struct command *cmd = commands; cmd->name; cmd++)
    if (strcmp (cmd->name, argv[i]) == 0)
      {
        cli_cmd = cmd->name;
        cli_role = cmd->role;
        cli_state = &c;
        int rc = cmd->run (&c, argc - i, argv + i);
        sq_redis_close (&c.r);
        sq_config_free (&c.conf);
        return rc;
      }
  cli_die (SQ_EXIT_USAGE, "'%s': unknown command", argv[i]);
}
