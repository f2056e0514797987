/* sandq status, wait, result, logs, cancel: following one job. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/util.h"
#include "cli.h"

/* The one job ID of a command; "QUEUE/ID" (as sandq workers shows the
 * jobs it runs) names the queue too. */
static const char *
one_id (struct cli *c, int argc, char **argv, int first, const char *cmd)
{
  static char queue[SQ_QUEUE_MAX + 1];
  if (first != argc - 1)
    cli_die (SQ_EXIT_USAGE, "%s: needs exactly one job ID", cmd);
  const char *slash = strchr (argv[first], '/');
  const char *id = slash ? slash + 1 : argv[first];
  if (!sq_valid_name (id, SQ_ID_MAX))
    cli_die (SQ_EXIT_USAGE,
             "%s: '%.80s': not a job ID; use 1-%d of [A-Za-z0-9._:-], as QUEUE/ID or ID",
             cmd, argv[first], SQ_ID_MAX);
  if (!slash)
    return id;
  if ((size_t) (slash - argv[first]) > SQ_QUEUE_MAX)
    cli_die (SQ_EXIT_USAGE, "%s: '%.80s': not a QUEUE/ID", cmd, argv[first]);
  snprintf (queue, sizeof queue, "%.*s", (int) (slash - argv[first]), argv[first]);
  if (c->queue && strcmp (c->queue, queue) != 0)
    cli_die (SQ_EXIT_USAGE,
             "%s: '%.80s': names queue '%s', and --queue another; give one of them", cmd,
             argv[first], queue);
  c->queue = queue;
  return slash + 1;
}

static const struct option common_only[] = { CLI_COMMON_OPTS, { 0, 0, 0, 0 } };

int
cmd_status (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq status [--json] [--queue Q] ID\n\n"
        "Prints the job's state (queued, running, final), its verdict and message\n"
        "once final, figures (exit code, wall and CPU time, peak memory, output\n"
        "bytes), timestamps, attempts and the worker. Exit status 0 if the job\n"
        "exists, 4 if not.\n";
  const char *id = one_id (
      c, argc, argv, cli_getopt (c, argc, argv, common_only, help, NULL, NULL), "status");
  char queue[SQ_QUEUE_MAX + 1];
  json_t *job;

  cli_connect (c);
  cli_job_queue (c, id, queue, sizeof queue);
  job = cli_job_json (c, queue, id);
  if (!job)
    cli_die (SQ_EXIT_NOT_FOUND, CLI_NO_JOB, id, queue);
  cli_print_job (c, job);
  json_decref (job);
  return SQ_EXIT_OK;
}

static int
parse_timeout (struct cli *c, int o, const char *arg, void *ctx)
{
  sq_err err = { 0 };
  (void) c;
  if (o != 'T')
    return 0;
  if (sq_parse_duration_ms (arg, "--timeout", ctx, &err) < 0)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  return 1;
}

int
cmd_wait (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq wait [--json] [--queue Q] [--timeout DURATION] ID\n\n"
        "Blocks until the job is final, showing state changes on a terminal,\n"
        "then prints it like 'sandq status'. Exit status 0 if the verdict is ok,\n"
        "1 if not, 4 if there is no such job, 5 on timeout.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "timeout", required_argument, 0, 'T' },
    { 0, 0, 0, 0 },
  };
  uint64_t timeout = 0;
  const char *id
      = one_id (c, argc, argv,
                cli_getopt (c, argc, argv, opts, help, parse_timeout, &timeout), "wait");
  char queue[SQ_QUEUE_MAX + 1];
  int code;

  cli_connect (c);
  cli_job_queue (c, id, queue, sizeof queue);
  json_t *job = cli_wait (c, queue, id, timeout, c->json, &code);
  if (job)
    {
      cli_print_job (c, job);
      json_decref (job);
    }
  return code;
}

static int
parse_dir (struct cli *c, int o, const char *arg, void *ctx)
{
  (void) c;
  if (o != 'R')
    return 0;
  *(const char **) ctx = arg;
  return 1;
}

int
cmd_result (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq result [--json] [--queue Q] [--key FILE] --result-dir DIR ID\n\n"
        "Downloads the job's result archive and extracts it into DIR: out/ (the\n"
        "files the program left there), stdout, stderr and result.json. The\n"
        "archive is treated as hostile: no links, no devices, no absolute paths\n"
        "or '..', capped sizes. Exit status follows the verdict (0 ok, 1 not).\n"
        "A result sealed to its submitter (submit --seal-to) is opened with the\n"
        "secret key in FILE (--key, or $SANDQ_KEY); without it: exit 2.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "result-dir", required_argument, 0, 'R' },
    { "key", required_argument, 0, OPT_KEY },
    { 0, 0, 0, 0 },
  };
  const char *dir = NULL;
  const char *id = one_id (
      c, argc, argv, cli_getopt (c, argc, argv, opts, help, parse_dir, &dir), "result");
  char queue[SQ_QUEUE_MAX + 1];
  int code = SQ_EXIT_OK;

  if (!dir)
    cli_die (SQ_EXIT_USAGE,
             "result: no --result-dir; name an empty directory to extract into");
  cli_connect (c);
  cli_job_queue (c, id, queue, sizeof queue);
  json_t *job = cli_job_json (c, queue, id);
  if (!job)
    cli_die (SQ_EXIT_NOT_FOUND, CLI_NO_JOB, id, queue);
  if (cli_fetch_result (c, queue, id, dir, &code) < 0)
    {
      json_decref (job);
      return code;
    }
  code = cli_status_code (job);
  if (c->json)
    cli_print_job (c, job);
  else
    printf ("%s: %s; result in %s\n", id,
            json_string_value (json_object_get (job, "status")), dir);
  json_decref (job);
  return code;
}

/* ctx: the stream letter ('o', 'e') in the low byte, 0x100 for -f. */
static int
parse_stream (struct cli *c, int o, const char *arg, void *ctx)
{
  (void) c;
  (void) arg;
  if (o == 'f')
    {
      *(int *) ctx |= 0x100;
      return 1;
    }
  if (o != 'o' && o != 'e')
    return 0;
  *(int *) ctx = (*(int *) ctx & 0x100) | o;
  return 1;
}

int
cmd_logs (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq logs [--queue Q] [--stdout | --stderr] [-f] [--key FILE] ID\n\n"
        "Prints the job's captured stdout, then its stderr (or only one of\n"
        "them), as stored in its result archive. With --json: {\"stdout\": ...,\n"
        "\"stderr\": ...}, where a byte that is not UTF-8 becomes U+FFFD (the\n"
        "exact bytes come without --json).\n\n"
        "-f, --follow: a job that is queued or running is followed to its\n"
        "verdict, its stdout and stderr printed as they come (to stdout and\n"
        "stderr); the exit status is then the verdict's (0 ok, 1 not). A sealed\n"
        "job publishes no live output: its logs come once it is final.\n\n"
        "--key FILE: the secret key that opens a sealed result (or $SANDQ_KEY).\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "key", required_argument, 0, OPT_KEY },
    { "stdout", no_argument, 0, 'o' },
    { "stderr", no_argument, 0, 'e' },
    { "follow", no_argument, 0, 'f' },
    { 0, 0, 0, 0 },
  };
  int which = 0;
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "-f") == 0)
      argv[i] = (char *) "--follow";
  const char *id
      = one_id (c, argc, argv,
                cli_getopt (c, argc, argv, opts, help, parse_stream, &which), "logs");
  char queue[SQ_QUEUE_MAX + 1];
  sq_err err = { 0 };

  if ((which & 0x100) && c->json)
    cli_die (SQ_EXIT_USAGE, "logs: --follow with --json: --follow prints the bytes "
                            "as they come; drop one of them");
  cli_connect (c);
  cli_job_queue (c, id, queue, sizeof queue);
  if (which & 0x100)
    {
      FILE *devnull = fopen ("/dev/null", "we");
      int code;
      int only = which & 0xff;
      json_t *job = cli_follow (c, queue, id, only == 'e' ? devnull : stdout,
                                only == 'o' ? devnull : stderr, &code);
      if (devnull)
        fclose (devnull);
      json_decref (job);
      return code;
    }
  redisReply *rep = cli_result_get (c, queue, id, &err);
  if (!rep)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (rep->type != REDIS_REPLY_STRING)
    cli_die (SQ_EXIT_NOT_FOUND,
             "job '%s': no logs; it has not finished, was rejected, or has expired (see "
             "sandq status)",
             id);
  json_t *o = json_object ();
  for (int i = 0; i < 2; i++)
    {
      const char *name = i == 0 ? "stdout" : "stderr";
      size_t len = 0;
      sq_err e2 = { 0 };
      if (((which & 0xff) == 'o' && i == 1) || ((which & 0xff) == 'e' && i == 0))
        continue;
      char *data
          = sq_archive_read_member (rep->str, rep->len, name, 1ULL << 30, &len, &e2);
      if (!data)
        continue;
      if (c->json)
        json_object_set_new (o, name, cli_json_text (data, len));
      else if (fwrite (data, 1, len, i == 0 ? stdout : stderr) != len)
        cli_die (SQ_EXIT_FAILURE, "write: %s", strerror (errno));
      free (data);
    }
  if (c->json)
    {
      if (json_dumpf (o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) < 0)
        cli_die (SQ_EXIT_FAILURE,
                 "logs: cannot write them as JSON; check the output stream");
      putchar ('\n');
    }
  json_decref (o);
  freeReplyObject (rep);
  return SQ_EXIT_OK;
}

int
cmd_cancel (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq cancel [--json] [--queue Q] ID\n\n"
        "A queued job never runs; a running job is stopped within about a second\n"
        "(at its worker's next lease renewal). Either way its final status is\n"
        "'cancelled'. Exit status 0 if cancelled or cancelling, 1 if the job was\n"
        "already final, 4 if there is no such job.\n";
  const char *id = one_id (
      c, argc, argv, cli_getopt (c, argc, argv, common_only, help, NULL, NULL), "cancel");
  char queue[SQ_QUEUE_MAX + 1], outcome[32];
  sq_err err = { 0 };

  cli_connect (c);
  cli_job_queue (c, id, queue, sizeof queue);
  if (sq_cancel (&c->p, queue, id, outcome, sizeof outcome, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (c->json)
    printf ("{\"id\":\"%s\",\"outcome\":\"%s\"}\n", id, outcome);
  else
    printf ("%s: %s\n", id,
            strcmp (outcome, "cancelled") == 0    ? "cancelled before it ran"
            : strcmp (outcome, "cancelling") == 0 ? "running; it is being stopped"
            : strcmp (outcome, "final") == 0      ? "already finished; nothing to cancel"
                                                  : "no such job");
  if (strcmp (outcome, "unknown") == 0)
    return SQ_EXIT_NOT_FOUND;
  return strcmp (outcome, "final") == 0 ? SQ_EXIT_VERDICT : SQ_EXIT_OK;
}
