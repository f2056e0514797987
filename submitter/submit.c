/* sandq submit: pack the inputs, queue the job, optionally follow it. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/spec.h"
#include "../common/util.h"
#include "../common/seal.h"
#include "cli.h"

static const char help[]
    = "usage: sandq submit [OPTION...] [PATH...] -- COMMAND [ARG...]\n"
      "\n"
      "Packs the PATHs into the job's input (each under its base name in /work;\n"
      "a single .tar, .tar.gz or .tgz is used as the whole input), uploads it\n"
      "and prints the job id. On a terminal a progress line follows packing,\n"
      "then uploading: how much, the rate, the time left.\n"
      "\n"
      "Limits (as sandq-sandbox; the worker's defaults otherwise):\n"
      "  --memory SIZE --cpu DURATION --wall DURATION --pids N --output SIZE\n"
      "  --disk SIZE --inodes N --cpus CORES\n"
      "Job:\n"
      "  --queue Q          queue to submit to              (default: default)\n"
      "  --priority P       high, normal or low             (default: normal)\n"
      "  --id ID            your own id: submitting the same id twice returns\n"
      "                     the existing job\n"
      "  --env NAME=VALUE   set a variable in the sandbox (repeatable)\n"
      "  --input-from ID[:PATH]  a finished job's out/ (or out/PATH) as input,\n"
      "                     unpacked into /work as it was in out/, straight\n"
      "                     from Redis (repeatable; the same queue's jobs)\n"
      "  --network NAME     a network profile of the queue's (repeatable): the\n"
      "                     destinations the operator named for it, nothing\n"
      "                     else                    (default: the queue's, or none)\n"
      "  --ttl DURATION     give up if not started by then  (default 1d)\n"
      "  --keep DURATION    keep the verdict and result     (default 3d)\n"
      "  --max-attempts N   runs on sandq's own faults       (default 3)\n"
      "  --max-input SIZE   refuse bigger inputs             (default 64M)\n"
      "  --seal-to FILE     the worker encrypts the result to this public key\n"
      "                     (FILE.pub of sandq keygen) and publishes no live\n"
      "                     output: only the secret key opens it (result --key)\n"
      "Following:\n"
      "  --wait             follow the job to its verdict; the exit status then\n"
      "                     reflects it\n"
      "  --result-dir DIR   with --wait: extract the result archive into DIR\n"
      "  --key FILE         with --wait: the secret key of a sealed result\n"
      "  --json             print {\"id\": ...} (with --wait: the final job)\n"
      "  --redis URL, --config FILE\n";

struct submit_opts
{
  struct sq_spec spec;
  const char *input_from[SQ_SPEC_MAX_INPUTS];
  int ninput_from;
  int priority;
  const char *id;
  uint64_t ttl_ms, keep_s, max_input;
  int max_attempts;
  int wait;
  const char *result_dir;
};

/* getopt's codes for the limit options: LIMIT_OPT + enum sq_limit (above
 * the common options' OPT_* codes). */
#define LIMIT_OPT 2000
_Static_assert(LIMIT_OPT > OPT_JSON, "limit option codes overlap the common ones");

static int
extra (struct cli *c, int o, const char *arg, void *ctx)
{
  struct submit_opts *s = ctx;
  sq_err err = { 0 };
  uint64_t v;
  (void) c;

  switch (o)
    {
    case LIMIT_OPT ... LIMIT_OPT + SQ_LIM__COUNT - 1:
      if (sq_limit_opt_parse (o - LIMIT_OPT, arg, &s->spec.limits[o - LIMIT_OPT], &err)
          < 0)
        cli_die (SQ_EXIT_USAGE, "%s", err.msg);
      return 1;
    case 'P':
      s->priority = sq_priority_from_name (arg);
      if (s->priority < 0)
        cli_die (SQ_EXIT_USAGE, "--priority '%s': unknown; use high, normal or low", arg);
      return 1;
    case 'I':
      if (!sq_valid_name (arg, SQ_ID_MAX))
        cli_die (SQ_EXIT_USAGE,
                 "--id '%.80s': not a job ID; use 1-%d of [A-Za-z0-9._:-], not "
                 "starting with '.' or '-'",
                 arg, SQ_ID_MAX);
      s->id = arg;
      return 1;
    case 'e':
      if (sq_spec_add_env (&s->spec, arg, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "--%s", err.msg);
      return 1;
    case 'f':
      if (s->ninput_from == SQ_SPEC_MAX_INPUTS)
        cli_die (SQ_EXIT_USAGE, "--input-from: more than %d earlier jobs",
                 SQ_SPEC_MAX_INPUTS);
      s->input_from[s->ninput_from++] = arg;
      return 1;
    case 'n':
      if (sq_spec_add_network (&s->spec, arg, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "--%s", err.msg);
      return 1;
    case 't':
      if (sq_parse_duration_ms (arg, "--ttl", &s->ttl_ms, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "%s", err.msg);
      return 1;
    case 'k':
      if (sq_parse_duration_ms (arg, "--keep", &v, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "%s", err.msg);
      s->keep_s = (v + 999) / 1000;
      return 1;
    case 'a':
      if (sq_parse_uint (arg, "--max-attempts", 1, 20, &v, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "%s", err.msg);
      s->max_attempts = (int) v;
      return 1;
    case 'M':
      if (sq_parse_size (arg, "--max-input", &s->max_input, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "%s", err.msg);
      return 1;
    case 'W':
      s->wait = 1;
      return 1;
    case 'S':
      if (sq_seal_read_key (arg, s->spec.seal_to, &err) < 0)
        cli_die (SQ_EXIT_USAGE, "--seal-to: %s", err.msg);
      s->spec.sealed = 1;
      return 1;
    case 'R':
      s->result_dir = arg;
      return 1;
    }
  return 0;
}

static void
upload_progress (size_t done, size_t total, void *ctx)
{
  struct cli_progress *pr = ctx;
  if (!pr->drawn && !pr->start_ms)
    cli_progress_start (pr, "uploading", total, 1);
  pr->total = total;
  cli_progress_update (pr, done);
}

/* Limits over what every live worker of the queue accepts (their
 * heartbeats' caps) would be rejected by the worker after queueing:
 * refuse them here. Without a live worker there is nothing to check. */
static void
check_caps (json_t *ws, const char *queue, const struct sq_spec *spec)
{
  json_t *w, *q;
  uint64_t most[SQ_LIM__COUNT] = { 0 };
  size_t i, k;
  int seen = 0;

  json_array_foreach (ws, i, w)
  {
    int serves = 0;
    json_array_foreach (json_object_get (w, "queues"), k, q) serves
        |= json_is_string (q) && strcmp (json_string_value (q), queue) == 0;
    const char *caps = json_string_value (json_object_get (w, "caps"));
    if (!serves || !caps)
      continue;
    seen = 1;
    for (int l = 0; l < SQ_LIM__COUNT; l++)
      {
        char pat[64];
        snprintf (pat, sizeof pat, "%s=", sq_limit_names[l]);
        const char *at = strstr (caps, pat);
        uint64_t v = at ? strtoull (at + strlen (pat), NULL, 10) : UINT64_MAX;
        if (v > most[l])
          most[l] = v;
      }
  }
  for (int l = 0; seen && l < SQ_LIM__COUNT; l++)
    if (spec->limits[l] > most[l])
      {
        char want[48], max[48];
        if (l == SQ_LIM_MEMORY || l == SQ_LIM_OUTPUT || l == SQ_LIM_DISK)
          {
            sq_format_size (spec->limits[l], want, sizeof want);
            sq_format_size (most[l], max, sizeof max);
          }
        else
          {
            snprintf (want, sizeof want, "%" PRIu64, spec->limits[l]);
            snprintf (max, sizeof max, "%" PRIu64, most[l]);
          }
        cli_die (SQ_EXIT_USAGE,
                 "submit: --%s %s: more than the workers of queue '%s' accept; ask for "
                 "at most %s",
                 sq_limit_opt_names[l], want, queue, max);
      }
}

/* A job on a queue no live worker serves waits, silently, until one
 * does: say so (it stays queued; a worker may be on its way). */
static void
warn_if_unserved (json_t *ws, const char *queue)
{
  json_t *w, *q;
  char served[512] = "";
  size_t i, k, n = 0;
  int found = 0;

  json_array_foreach (ws, i, w)
  {
    const char *state = json_string_value (json_object_get (w, "state"));
    json_array_foreach (json_object_get (w, "queues"), k, q)
    {
      const char *name = json_string_value (q);
      if (!name)
        continue;
      if (strcmp (name, queue) == 0 && (!state || strcmp (state, "running") == 0))
        found = 1;
      if (!strstr (served, name) && n < sizeof served)
        n += (size_t) snprintf (served + n, sizeof served - n, "%s%s", n ? ", " : "",
                                name);
    }
  }
  if (found)
    return;
  if (served[0])
    fprintf (stderr,
             "sandq: warning: no live worker serves queue '%s' (they serve: %s); the "
             "job waits until one does (--queue picks another)\n",
             queue, served);
  else
    fprintf (stderr,
             "sandq: warning: no live worker at all; the job waits in queue '%s' "
             "until one starts\n",
             queue);
}

/* After a verdict that is not ok: the end of the job's stderr, which
 * usually says why. */
static void
print_stderr_tail (struct cli *c, const char *queue, const char *id)
{
  sq_err err = { 0 };
  size_t len = 0;

  redisReply *rep = cli_result_get (c, queue, id, &err);
  if (!rep || rep->type != REDIS_REPLY_STRING)
    {
      if (rep)
        freeReplyObject (rep);
      return;
    }
  char *data
      = sq_archive_read_member (rep->str, rep->len, "stderr", 1ULL << 30, &len, &err);
  freeReplyObject (rep);
  if (data && len)
    {
      size_t keep = len > 2048 ? 2048 : len;
      fprintf (stderr, "sandq: the job's stderr%s:\n", keep < len ? " ends with" : "");
      /* Line by line, control characters shown escaped (a terminal). */
      char t[2048 * 4 + 1];
      json_t *txt = cli_json_text (data + len - keep, keep);
      char *all = strdup (json_string_value (txt));
      json_decref (txt);
      for (char *save = NULL, *l = all ? strtok_r (all, "\n", &save) : NULL; l;
           l = strtok_r (NULL, "\n", &save))
        fprintf (stderr, "  %s\n", cli_term_text (l, t, sizeof t));
      free (all);
    }
  free (data);
}

/* submit's options, PATHs and command (after "--"): into s; returns the
 * index of the first PATH, *dd that of "--". Exits on a bad one. */
static int
parse_submit (struct cli *c, int argc, char **argv, struct submit_opts *s, int *dd)
{
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    SQ_LIMIT_LONG_OPTIONS (LIMIT_OPT),
    { "priority", required_argument, 0, 'P' },
    { "id", required_argument, 0, 'I' },
    { "env", required_argument, 0, 'e' },
    { "network", required_argument, 0, 'n' },
    { "input-from", required_argument, 0, 'f' },
    { "ttl", required_argument, 0, 't' },
    { "keep", required_argument, 0, 'k' },
    { "max-attempts", required_argument, 0, 'a' },
    { "max-input", required_argument, 0, 'M' },
    { "wait", no_argument, 0, 'W' },
    { "result-dir", required_argument, 0, 'R' },
    { "seal-to", required_argument, 0, 'S' },
    { "key", required_argument, 0, OPT_KEY },
    { 0, 0, 0, 0 },
  };
  int first;

  cli_help_if_asked (argc, argv, help);
  *dd = -1;
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--") == 0)
      {
        *dd = i;
        break;
      }
  if (*dd < 0 || *dd == argc - 1)
    cli_die (SQ_EXIT_USAGE, "submit: no command after '--'; give one, as in: sandq "
                            "submit data.csv -- python3 job.py");
  /* Options and PATHs come before "--"; getopt must not see the command. */
  first = cli_getopt (c, *dd, argv, opts, help, extra, s);
  if (s->result_dir && !s->wait)
    cli_die (SQ_EXIT_USAGE, "submit: --result-dir without --wait; add --wait, or fetch "
                            "it later with sandq result");
  if (s->result_dir)
    {
      /* Before the job runs, not after. */
      char msg[PATH_MAX + 128];
      if (cli_check_result_dir (s->result_dir, msg, sizeof msg) < 0)
        cli_die (SQ_EXIT_USAGE, "submit: %s", msg);
    }
  if (s->max_input > SQ_MAX_INPUT_BYTES * 16)
    cli_die (SQ_EXIT_USAGE, "submit: --max-input: more than 1 GiB is not supported");
  s->spec.argc = argc - *dd - 1;
  s->spec.argv = argv + *dd + 1;
  return first;
}

/* --input-from: earlier jobs' results into the spec's inputs, each
 * checked. Exits on a bad one. */
static void
chain_inputs (struct cli *c, struct submit_opts *s, const char *queue)
{
  sq_err err = { 0 };

  if (s->ninput_from)
    cli_connect (c);
  for (int i = 0; i < s->ninput_from; i++)
    {
      int r = cli_chain_input (c, &s->spec, queue, s->input_from[i], s->ttl_ms, &err);
      if (r < 0)
        cli_die (r == -1   ? SQ_EXIT_FAILURE
                 : r == -4 ? SQ_EXIT_NOT_FOUND
                           : SQ_EXIT_USAGE,
                 "--input-from: %s", err.msg);
    }
}

/* The job's spec as JSON, after the caps of the queue's live workers
 * (workers, read once) are checked. Exits on a failure. */
static char *
build_spec (struct submit_opts *s, const char *queue, json_t *workers)
{
  char *spec;

  spec = sq_spec_to_json (&s->spec);
  /* Limits that no worker of the queue takes: refused now, not after
   * queueing. */
  check_caps (workers, queue, &s->spec);
  /* argv points into our own argv: detach it, then free what is ours. */
  s->spec.argv = NULL;
  s->spec.argc = 0;
  sq_spec_free (&s->spec);
  if (!spec)
    cli_die (SQ_EXIT_FAILURE, "cannot build the job spec");
  return spec;
}

/* Queues the job, with an upload bar on a terminal; 1 if it was made, 0
 * if it existed (its state in state). Exits on a failure. */
static int
enqueue (struct cli *c, struct submit_opts *s, const char *queue, const char *spec,
         void *input, size_t ilen, int tty, char *state, size_t state_len)
{
  struct cli_progress up = { 0 };
  sq_err err = { 0 };

  if (tty)
    {
      c->r.progress = upload_progress;
      c->r.progress_ctx = &up;
    }
  struct sq_submit_args a = {
    .queue = queue,
    .id = s->id,
    .spec_json = spec,
    .input = input ? input : "",
    .input_len = ilen,
    .ttl_ms = s->ttl_ms,
    .keep_s = s->keep_s,
    .priority = s->priority,
    .max_attempts = s->max_attempts,
    .submitter = getenv ("USER"),
  };
  int created = sq_submit_job (&c->p, &a, state, state_len, &err);
  c->r.progress = NULL;
  if (up.drawn)
    cli_progress_end (&up);
  if (created == -2)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  if (created < 0)
    cli_die (SQ_EXIT_FAILURE, "submit: %s", err.msg);
  return created;
}

/* --wait: the verdict, the result into --result-dir, the end of stderr
 * after a failure; the exit code. */
static int
wait_for (struct cli *c, const struct submit_opts *s, const char *queue)
{
  int code, fcode = 0, fetched;
  json_t *job;

  if (!c->json)
    fprintf (stderr, "sandq: submitted %s to queue %s\n", s->id, queue);
  job = cli_wait (c, queue, s->id, 0, c->json, &code);
  if (!job)
    return code;
  fetched = s->result_dir ? cli_fetch_result (c, queue, s->id, s->result_dir, &fcode) : 0;
  cli_print_job (c, job);
  json_decref (job);
  if (code != SQ_EXIT_OK && !c->json)
    print_stderr_tail (c, queue, s->id);
  /* A verdict that is not ok explains a missing archive (rejected, dead
   * letter); with an ok verdict a failed download is the error to report. */
  if (fetched < 0 && code == SQ_EXIT_OK)
    return fcode;
  return code;
}

int
cmd_submit (struct cli *c, int argc, char **argv)
{
  struct submit_opts s = {
    .priority = SQ_PRIO_NORMAL,
    .ttl_ms = SQ_DEFAULT_TTL_MS,
    .keep_s = SQ_DEFAULT_KEEP_S,
    .max_input = SQ_MAX_INPUT_BYTES,
    .max_attempts = SQ_DEFAULT_MAX_ATTEMPTS,
  };
  int dd, first = parse_submit (c, argc, argv, &s, &dd);
  const char *queue = c->queue ? c->queue : SQ_DEFAULT_QUEUE;
  int tty = isatty (STDERR_FILENO) && !c->json;
  char idbuf[32], state[32] = "";
  size_t ilen = 0;

  chain_inputs (c, &s, queue);
  void *input = first < dd
                    ? cli_pack_inputs (argv + first, dd - first, s.max_input, &ilen, tty)
                    : NULL;
  cli_connect (c);
  /* The live workers, read once: their caps now, whom they serve below.
   * A submitter role may not read them: then the worker itself refuses a
   * limit over its caps, with a verdict. */
  json_t *workers = cli_live_workers (c, 1);
  cleanup_free char *spec = build_spec (&s, queue, workers);
  if (!s.id)
    {
      cli_new_id (idbuf);
      s.id = idbuf;
    }
  int created = enqueue (c, &s, queue, spec, input, ilen, tty, state, sizeof state);
  free (input);
  if (!created && !c->json)
    fprintf (stderr, "sandq: job '%s' already exists (%s); not submitted again\n", s.id,
             state);
  if (created && workers)
    warn_if_unserved (workers, queue);
  json_decref (workers);
  if (s.wait)
    return wait_for (c, &s, queue);
  if (c->json)
    printf ("{\"id\":\"%s\",\"queue\":\"%s\",\"created\":%s}\n", s.id, queue,
            created ? "true" : "false");
  else
    printf ("%s\n", s.id);
  return SQ_EXIT_OK;
}
