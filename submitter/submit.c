/* sandq submit: pack the inputs, queue the job, optionally follow it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/spec.h"
#include "../common/util.h"
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
      "Following:\n"
      "  --wait             follow the job to its verdict; the exit status then\n"
      "                     reflects it\n"
      "  --result-dir DIR   with --wait: extract the result archive into DIR\n"
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
    case 'R':
      s->result_dir = arg;
      return 1;
    }
  return 0;
}

int
cli_chain_input (struct cli *c, struct sq_spec *spec, const char *queue, const char *arg,
                 uint64_t ttl_ms, sq_err *err)
{
  char id[SQ_ID_MAX + 1], other[SQ_QUEUE_MAX + 1];
  const char *path = "";
  size_t n = strlen (arg);
  int found = 0;

  /* ID, or ID:PATH: an id may hold ':' itself, so the longest prefix that
   * names a job is the id. */
  for (;;)
    {
      if (n && n <= SQ_ID_MAX)
        {
          memcpy (id, arg, n);
          id[n] = '\0';
          found = sq_valid_name (id, SQ_ID_MAX)
                      ? sq_index_get (&c->r, id, other, sizeof other, err)
                      : 0;
          if (found < 0)
            return -1;
          if (found)
            {
              path = arg[n] == ':' ? arg + n + 1 : "";
              break;
            }
        }
      const char *colon = n ? memrchr (arg, ':', n) : NULL;
      if (!colon)
        break;
      n = (size_t) (colon - arg);
    }
  if (!found)
    {
      sq_err_set (err, 0, "no job '%.128s' (ID or ID:PATH; it may have expired)", arg);
      return -4;
    }
  if (strcmp (other, queue) != 0)
    {
      sq_err_set (err, 0,
                  "job '%s' is in queue '%s': chained inputs come from the same "
                  "queue ('%s')",
                  id, other, queue);
      return -2;
    }
  if (sq_spec_add_input (spec, id, strlen (id), path, err) < 0)
    return -2;
  /* The earlier result must outlive this job's wait in the queue. */
  int exists = sq_result_hold (&c->r, queue, id, ttl_ms / 1000 + 86400, err);
  if (exists < 0)
    return -1;
  if (!exists)
    {
      sq_err_set (err, 0,
                  "job '%s' has no result yet (not finished, rejected, or "
                  "expired)",
                  id);
      return -2;
    }
  return 0;
}

/* A time-ordered, unguessable id: 48 bits of milliseconds and 80 random
 * bits in Crockford's base32 (like a ULID). */
void
cli_new_id (char *out)
{
  static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
  unsigned char raw[16];
  uint64_t ms = sq_wall_ms ();
  for (int i = 0; i < 6; i++)
    raw[i] = (unsigned char) (ms >> (40 - 8 * i));
  if (getrandom (raw + 6, 10, 0) != 10)
    cli_die (SQ_EXIT_FAILURE, "getrandom: %s", strerror (errno));
  /* 128 bits -> 26 characters of 5 bits (the first carries 3). */
  unsigned bitpos = 0;
  for (int i = 0; i < 26; i++)
    {
      unsigned v = 0;
      for (int b = 0; b < 5; b++)
        {
          int bit = (i == 0 && b < 2) ? 0 : 1;
          if (bit)
            {
              v = (v << 1) | ((raw[bitpos / 8] >> (7 - bitpos % 8)) & 1);
              bitpos++;
            }
          else
            v <<= 1;
        }
      out[i] = b32[v];
    }
  out[26] = '\0';
}

static int
ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
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

static void
pack_progress (uint64_t done, void *ctx)
{
  cli_progress_update (ctx, done);
}

/* The bytes of the regular files under the PATHs, as the packer reads
 * them (links not followed): the packing phase's 100%. */
static uint64_t input_total;

static int
add_size (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void) path;
  (void) ftw;
  if (type == FTW_F && S_ISREG (st->st_mode))
    input_total += st->st_size;
  return 0;
}

/* Builds the input: one .tar/.tar.gz as is, else a tar.gz of the PATHs. */
static void *
pack_inputs (char **paths, int n, uint64_t max, size_t *len, int tty)
{
  struct cli_progress pr;
  sq_err err = { 0 };
  void *buf = NULL;
  char lim[32];

  sq_format_size (max, lim, sizeof lim);
  if (n == 1
      && (ends_with (paths[0], ".tar") || ends_with (paths[0], ".tar.gz")
          || ends_with (paths[0], ".tgz")))
    {
      struct stat st;
      if (stat (paths[0], &st) < 0)
        cli_die (SQ_EXIT_USAGE, "input '%s': %s", paths[0], strerror (errno));
      if ((uint64_t) st.st_size > max)
        {
          char got[32];
          sq_format_size (st.st_size, got, sizeof got);
          cli_die (SQ_EXIT_USAGE,
                   "input '%s': %s, more than the limit of %s; raise it "
                   "with --max-input (at most 1G)",
                   paths[0], got, lim);
        }
      buf = sq_read_file_at (AT_FDCWD, paths[0], max, len, &err);
      if (!buf)
        cli_die (SQ_EXIT_USAGE, "input %s", err.msg);
      return buf;
    }
  struct sq_packer *p = sq_packer_new (max, &err);
  if (!p)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (tty)
    {
      input_total = 0;
      for (int i = 0; i < n; i++)
        nftw (paths[i], add_size, 16, FTW_PHYS);
      /* Small inputs pack in a blink: no line for them. */
      cli_progress_start (&pr, "packing", input_total, input_total >= (1 << 20));
      sq_packer_set_progress (p, pack_progress, &pr);
    }
  for (int i = 0; i < n; i++)
    {
      char copy[4096], *base;
      snprintf (copy, sizeof copy, "%s", paths[i]);
      while (strlen (copy) > 1 && copy[strlen (copy) - 1] == '/')
        copy[strlen (copy) - 1] = '\0';
      base = strrchr (copy, '/') ? strrchr (copy, '/') + 1 : copy;
      if (!*base || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
        cli_die (SQ_EXIT_USAGE,
                 "input '%s': not a file or a named directory; give a file or a "
                 "directory by name",
                 paths[i]);
      if (sq_packer_add_path (p, paths[i], base, &err) < 0)
        {
          sq_packer_free (p);
          if (err.code == EFBIG)
            cli_die (SQ_EXIT_USAGE,
                     "input: %s; raise the limit with --max-input (at most 1G)", err.msg);
          cli_die (SQ_EXIT_USAGE, "input %s", err.msg);
        }
    }
  if (tty)
    cli_progress_end (&pr);
  if (sq_packer_finish (p, &buf, len, &err) < 0)
    cli_die (SQ_EXIT_USAGE, "input: %s", err.msg);
  return buf;
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

  redisReply *rep = sq_result_get (&c->r, queue, id, &err);
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

int
cmd_submit (struct cli *c, int argc, char **argv)
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
    { 0, 0, 0, 0 },
  };
  struct submit_opts s = {
    .priority = SQ_PRIO_NORMAL,
    .ttl_ms = SQ_DEFAULT_TTL_MS,
    .keep_s = SQ_DEFAULT_KEEP_S,
    .max_input = SQ_MAX_INPUT_BYTES,
    .max_attempts = SQ_DEFAULT_MAX_ATTEMPTS,
  };
  int dd = -1, first;
  char idbuf[32], state[32] = "";
  sq_err err = { 0 };

  cli_help_if_asked (argc, argv, help);
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--") == 0)
      {
        dd = i;
        break;
      }
  if (dd < 0 || dd == argc - 1)
    cli_die (SQ_EXIT_USAGE, "submit: no command after '--'; give one, as in: sandq "
                            "submit data.csv -- python3 job.py");
  /* Options and PATHs come before "--"; getopt must not see the command. */
  first = cli_getopt (c, dd, argv, opts, help, extra, &s);
  if (s.result_dir && !s.wait)
    cli_die (SQ_EXIT_USAGE, "submit: --result-dir without --wait; add --wait, or fetch "
                            "it later with sandq result");
  if (s.result_dir)
    {
      /* Before the job runs, not after. */
      char msg[PATH_MAX + 128];
      if (cli_check_result_dir (s.result_dir, msg, sizeof msg) < 0)
        cli_die (SQ_EXIT_USAGE, "submit: %s", msg);
    }
  if (s.max_input > SQ_MAX_INPUT_BYTES * 16)
    cli_die (SQ_EXIT_USAGE, "submit: --max-input: more than 1 GiB is not supported");
  s.spec.argc = argc - dd - 1;
  s.spec.argv = argv + dd + 1;

  const char *queue = c->queue ? c->queue : SQ_DEFAULT_QUEUE;
  if (s.ninput_from)
    cli_connect (c);
  for (int i = 0; i < s.ninput_from; i++)
    {
      int r = cli_chain_input (c, &s.spec, queue, s.input_from[i], s.ttl_ms, &err);
      if (r < 0)
        cli_die (r == -1   ? SQ_EXIT_FAILURE
                 : r == -4 ? SQ_EXIT_NOT_FOUND
                           : SQ_EXIT_USAGE,
                 "--input-from: %s", err.msg);
    }
  size_t ilen = 0;
  int tty = isatty (STDERR_FILENO) && !c->json;
  void *input = first < dd
                    ? pack_inputs (argv + first, dd - first, s.max_input, &ilen, tty)
                    : NULL;
  cleanup_free char *spec = sq_spec_to_json (&s.spec);
  /* Limits that no worker of the queue takes: refused now, not after
   * queueing. */
  cli_connect (c);
  /* The live workers, read once: their caps now, whom they serve below. */
  json_t *workers = cli_live_workers (c);
  check_caps (workers, queue, &s.spec);
  /* argv points into our own argv: detach it, then free what is ours. */
  s.spec.argv = NULL;
  s.spec.argc = 0;
  sq_spec_free (&s.spec);
  if (!spec)
    cli_die (SQ_EXIT_FAILURE, "cannot build the job spec");
  if (!s.id)
    {
      cli_new_id (idbuf);
      s.id = idbuf;
    }

  cli_connect (c);
  struct cli_progress up = { 0 };
  if (tty)
    {
      c->r.progress = upload_progress;
      c->r.progress_ctx = &up;
    }
  struct sq_submit_args a = {
    .queue = queue,
    .id = s.id,
    .spec_json = spec,
    .input = input,
    .input_len = ilen,
    .ttl_ms = s.ttl_ms,
    .keep_s = s.keep_s,
    .priority = s.priority,
    .max_attempts = s.max_attempts,
    .submitter = getenv ("USER"),
  };
  if (!a.input)
    a.input = "";
  int created = sq_submit_job (&c->p, &a, state, sizeof state, &err);
  c->r.progress = NULL;
  if (up.drawn)
    cli_progress_end (&up);
  free (input);
  if (created == -2)
    cli_die (SQ_EXIT_USAGE, "%s", err.msg);
  if (created < 0)
    cli_die (SQ_EXIT_FAILURE, "submit: %s", err.msg);
  if (!created && !c->json)
    fprintf (stderr, "sandq: job '%s' already exists (%s); not submitted again\n", s.id,
             state);
  if (created)
    warn_if_unserved (workers, queue);
  json_decref (workers);
  if (!s.wait)
    {
      if (c->json)
        printf ("{\"id\":\"%s\",\"queue\":\"%s\",\"created\":%s}\n", s.id, queue,
                created ? "true" : "false");
      else
        printf ("%s\n", s.id);
      return SQ_EXIT_OK;
    }
  if (!c->json)
    fprintf (stderr, "sandq: submitted %s to queue %s\n", s.id, queue);
  int code;
  json_t *job = cli_wait (c, queue, s.id, 0, c->json, &code);
  if (!job)
    return code;
  int fcode = 0;
  int fetched
      = s.result_dir ? cli_fetch_result (c, queue, s.id, s.result_dir, &fcode) : 0;
  cli_print_job (c, job);
  json_decref (job);
  if (code != SQ_EXIT_OK && !c->json)
    print_stderr_tail (c, queue, s.id);
  /* A verdict that is not ok explains a missing archive (rejected, dead
   * letter); with an ok verdict a failed download is the error to report. */
  if (fetched < 0 && code == SQ_EXIT_OK)
    return fcode;
  return code;
}
