/* sandq stats, dead, workers, drain, pause, resume: the operator's view. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "cli.h"

static const struct option common_only[] = { CLI_COMMON_OPTS, { 0, 0, 0, 0 } };

static redisReply *
must (struct cli *c, redisReply *rep, sq_err *err)
{
  (void) c;
  if (!rep)
    cli_die (SQ_EXIT_FAILURE, "%s", err->msg);
  return rep;
}

static json_t *
queue_stats (struct cli *c, const char *q)
{
  static const char *const depth_names[3] = { "depth_high", "depth_normal", "depth_low" };
  json_t *o = json_object (), *counts = json_object ();
  struct sq_waiting wt;
  sq_err err = { 0 };

  if (sq_queue_waiting (&c->r, q, &wt, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  for (int p = 0; p < 3; p++)
    json_object_set_new (o, depth_names[p], json_integer (wt.depth[p]));
  json_object_set_new (o, "depth", json_integer (wt.total));
  struct sq_queue_counts qc;
  if (sq_queue_counts (&c->r, q, &qc, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  json_object_set_new (o, "running", json_integer (qc.running));
  json_object_set_new (o, "retrying", json_integer (qc.retrying));
  json_object_set_new (o, "dead", json_integer (qc.dead));
  json_object_set_new (o, "paused", json_boolean (qc.paused));
  json_object_set_new (o, "oldest_age_ms",
                       wt.oldest_ms >= 0 ? json_integer (wt.oldest_ms) : json_null ());
  redisReply *rep = must (c, sq_queue_stats (&c->r, q, &err), &err);
  long long done = 0, failed = 0;
  for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
    {
      const char *k = rep->element[i]->str;
      long long v = strtoll (rep->element[i + 1]->str, NULL, 10);
      if (strncmp (k, "status:", 7) == 0)
        {
          json_object_set_new (counts, k + 7, json_integer (v));
          if (strcmp (k + 7, "ok") == 0)
            done += v;
          else
            failed += v;
        }
      else if (json_object_get (o, k))
        {
          /* A counter named like a gauge above ("dead": the jobs ever
           * dead-lettered, not the set's size now) keeps its own name. */
          char total[160];
          snprintf (total, sizeof total, "%s_total", k);
          json_object_set_new (o, total, json_integer (v));
        }
      else
        json_object_set_new (o, k, json_integer (v));
    }
  freeReplyObject (rep);
  json_object_set_new (o, "done", json_integer (done));
  json_object_set_new (o, "failed", json_integer (failed));
  json_object_set_new (o, "by_status", counts);
  return o;
}

json_t *
cli_live_workers (struct cli *c, int optional)
{
  sq_err err = { 0 };
  redisReply *rep = sq_workers_since (&c->r, sq_wall_ms () - 30000, &err);
  if (!rep && optional && sq_redis_take_denied (&c->r))
    return NULL;
  must (c, rep, &err);
  json_t *arr = json_array ();
  for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
    {
      redisReply *h = must (c, sq_worker_get (&c->r, rep->element[i]->str, &err), &err);
      json_t *w = json_object ();
      json_object_set_new (w, "id", json_string (rep->element[i]->str));
      for (size_t k = 0; h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2)
        {
          const char *name = h->element[k]->str, *v = h->element[k + 1]->str;
          if (!strcmp (name, "slots") || !strcmp (name, "busy") || !strcmp (name, "pid")
              || !strcmp (name, "heartbeat_at") || !strcmp (name, "started_at"))
            json_object_set_new (w, name, json_integer (strtoll (v, NULL, 10)));
          else if (!strcmp (name, "jobs") || !strcmp (name, "queues"))
            {
              json_t *list = json_array ();
              char *dup = strdup (v), *save = NULL;
              for (char *t = strtok_r (dup, ",", &save); t;
                   t = strtok_r (NULL, ",", &save))
                json_array_append_new (list, json_string (t));
              free (dup);
              json_object_set_new (w, name, list);
            }
          else
            json_object_set_new (w, name, cli_json_text (v, h->element[k + 1]->len));
        }
      freeReplyObject (h);
      if (json_object_size (w) > 1)
        json_array_append_new (arr, w);
      else
        json_decref (w);
    }
  freeReplyObject (rep);
  return arr;
}

static void
memory_usage (struct cli *c, long long *bytes, long long *keys)
{
  sq_err err = { 0 };
  if (sq_memory_usage (&c->r, 200000, bytes, keys, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
}

/* A no-argument option that sets a flag: ctx is a struct flag_opt. */
struct flag_opt
{
  int opt;
  int set;
};

static int
flag_opt (struct cli *c, int o, const char *arg, void *ctx)
{
  struct flag_opt *f = ctx;
  (void) c;
  (void) arg;
  if (o != f->opt)
    return 0;
  f->set = 1;
  return 1;
}

/* stats --prometheus: the queue gauges in the text format of
 * node_exporter's textfile collector. */
static void
print_stats_prometheus (json_t *queues, json_t *workers, long long mem)
{
  const char *q;
  json_t *v;

  printf ("# HELP sandq_queue_depth Jobs waiting in the queue.\n# TYPE "
          "sandq_queue_depth gauge\n");
  json_object_foreach (queues, q, v)
      printf ("sandq_queue_depth{queue=\"%s\"} %lld\n", q,
              (long long) json_integer_value (json_object_get (v, "depth")));
  printf ("# HELP sandq_queue_running Jobs running.\n# TYPE sandq_queue_running gauge\n");
  json_object_foreach (queues, q, v)
      printf ("sandq_queue_running{queue=\"%s\"} %lld\n", q,
              (long long) json_integer_value (json_object_get (v, "running")));
  printf ("# HELP sandq_queue_dead Jobs in the dead-letter set.\n# TYPE "
          "sandq_queue_dead gauge\n");
  json_object_foreach (queues, q, v)
      printf ("sandq_queue_dead{queue=\"%s\"} %lld\n", q,
              (long long) json_integer_value (json_object_get (v, "dead")));
  printf ("# HELP sandq_queue_oldest_age_seconds Age of the oldest waiting job.\n"
          "# TYPE sandq_queue_oldest_age_seconds gauge\n");
  json_object_foreach (queues, q, v)
  {
    json_t *a = json_object_get (v, "oldest_age_ms");
    printf ("sandq_queue_oldest_age_seconds{queue=\"%s\"} %.3f\n", q,
            json_is_integer (a) ? json_integer_value (a) / 1000.0 : 0.0);
  }
  printf ("# HELP sandq_queue_jobs_total Finished jobs by verdict.\n"
          "# TYPE sandq_queue_jobs_total counter\n");
  json_object_foreach (queues, q, v)
  {
    const char *s;
    json_t *n;
    json_object_foreach (json_object_get (v, "by_status"), s, n)
        printf ("sandq_queue_jobs_total{queue=\"%s\",status=\"%s\"} %lld\n", q, s,
                (long long) json_integer_value (n));
  }
  printf ("# HELP sandq_workers_live Workers with a heartbeat in the last 30 s.\n"
          "# TYPE sandq_workers_live gauge\nsandq_workers_live %zu\n",
          json_array_size (workers));
  printf ("# HELP sandq_redis_memory_bytes Memory used by sandq's keys.\n"
          "# TYPE sandq_redis_memory_bytes gauge\nsandq_redis_memory_bytes %lld\n",
          mem);
}

/* stats, for a person: a table of the queues, the live workers, and the
 * memory sandq's keys use. */
static void
print_stats_text (json_t *queues, json_t *workers, long long mem, long long keys)
{
  const char *q;
  json_t *v;
  char m[32];
  printf ("%-16s %7s %7s %7s %7s %7s %7s %10s\n", "QUEUE", "WAITING", "RUNNING", "RETRY",
          "DEAD", "DONE", "FAILED", "OLDEST");
  json_object_foreach (queues, q, v)
  {
    json_t *a = json_object_get (v, "oldest_age_ms");
    char age[32] = "-";
    if (json_is_integer (a))
      sq_format_duration ((uint64_t) json_integer_value (a), age, sizeof age);
#define N(k) (long long) json_integer_value (json_object_get (v, k))
    printf ("%-16s %7lld %7lld %7lld %7lld %7lld %7lld %10s%s\n", q, N ("depth"),
            N ("running"), N ("retrying"), N ("dead"), N ("done"), N ("failed"), age,
            json_is_true (json_object_get (v, "paused")) ? "  (paused)" : "");
#undef N
  }
  printf ("\n%zu live worker(s)\n", json_array_size (workers));
  size_t i;
  json_array_foreach (workers, i, v)
  {
    printf ("  %-30s %lld/%lld busy  %s", json_string_value (json_object_get (v, "id")),
            (long long) json_integer_value (json_object_get (v, "busy")),
            (long long) json_integer_value (json_object_get (v, "slots")),
            json_string_value (json_object_get (v, "state")));
    json_t *jobs = json_object_get (v, "jobs"), *j;
    size_t k;
    json_array_foreach (jobs, k, j)
        printf ("%s%s", k ? ", " : "  jobs: ", json_string_value (j));
    putchar ('\n');
  }
  sq_format_size ((uint64_t) mem, m, sizeof m);
  printf ("\nRedis memory used by sandq: %s in %lld keys\n", m, keys);
}

int
cmd_stats (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq stats [--json | --prometheus] [--queue Q]\n\n"
        "Per queue: jobs waiting (by priority), running, retrying, dead-lettered,\n"
        "the age of the oldest waiting job, finished counts by verdict. Then the\n"
        "live workers with their slots and current jobs, and the memory sandq's\n"
        "keys use in Redis. --prometheus prints the queue gauges in the text\n"
        "format of node_exporter's textfile collector.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "prometheus", no_argument, 0, 'P' },
    { 0, 0, 0, 0 },
  };
  struct flag_opt prom = { 'P', 0 };
  sq_err err = { 0 };
  json_t *queues = json_object (), *workers;
  long long mem, keys;

  if (cli_getopt (c, argc, argv, opts, help, flag_opt, &prom) != argc)
    cli_die (SQ_EXIT_USAGE, "stats: takes no arguments");
  cli_connect (c);
  if (c->queue)
    json_object_set_new (queues, c->queue, queue_stats (c, c->queue));
  else
    {
      redisReply *rep = must (c, sq_queues (&c->r, &err), &err);
      for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        json_object_set_new (queues, rep->element[i]->str,
                             queue_stats (c, rep->element[i]->str));
      freeReplyObject (rep);
    }
  workers = cli_live_workers (c, 0);
  memory_usage (c, &mem, &keys);

  if (prom.set)
    print_stats_prometheus (queues, workers, mem);
  else if (c->json)
    {
      json_t *o = json_pack ("{s:o, s:o, s:{s:I, s:I}}", "queues", queues, "workers",
                             workers, "redis", "memory_bytes", (json_int_t) mem, "keys",
                             (json_int_t) keys);
      json_dumpf (o, stdout, JSON_COMPACT | JSON_SORT_KEYS);
      putchar ('\n');
      json_decref (o);
      return SQ_EXIT_OK;
    }
  else
    print_stats_text (queues, workers, mem, keys);
  json_decref (queues);
  json_decref (workers);
  return SQ_EXIT_OK;
}

int
cmd_workers (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq workers [--json]\n\n"
        "Lists the live workers (a heartbeat in the last 30 s): id, host,\n"
        "version, state (running, draining, stopping), busy/total slots, the\n"
        "queues they serve and the jobs they run (as QUEUE/ID).\n";
  json_t *w, *v;
  size_t i;

  if (cli_getopt (c, argc, argv, common_only, help, NULL, NULL) != argc)
    cli_die (SQ_EXIT_USAGE, "workers: takes no arguments");
  cli_connect (c);
  w = cli_live_workers (c, 0);
  if (c->json)
    {
      json_dumpf (w, stdout, JSON_COMPACT | JSON_SORT_KEYS);
      putchar ('\n');
    }
  else
    {
      printf ("%-30s %-16s %-8s %-9s %5s  %-20s %s\n", "WORKER", "HOST", "VERSION",
              "STATE", "BUSY", "QUEUES", "JOBS");
      json_array_foreach (w, i, v)
      {
        char jobs[1024] = "", queues[256] = "";
        size_t n = 0, k;
        json_t *j;
        json_array_foreach (json_object_get (v, "jobs"), k, j) n
            += snprintf (jobs + n, n < sizeof jobs ? sizeof jobs - n : 0, "%s%s",
                         k ? "," : "", json_string_value (j));
        n = 0;
        json_array_foreach (json_object_get (v, "queues"), k, j) n
            += snprintf (queues + n, n < sizeof queues ? sizeof queues - n : 0, "%s%s",
                         k ? "," : "", json_string_value (j));
        printf ("%-30s %-16s %-8s %-9s %2lld/%-2lld  %-20s %s\n",
                json_string_value (json_object_get (v, "id")),
                json_string_value (json_object_get (v, "host")),
                json_string_value (json_object_get (v, "version")),
                json_string_value (json_object_get (v, "state")),
                (long long) json_integer_value (json_object_get (v, "busy")),
                (long long) json_integer_value (json_object_get (v, "slots")), queues,
                jobs);
      }
    }
  json_decref (w);
  return SQ_EXIT_OK;
}

int
cmd_drain (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq drain [--json] WORKER\n\n"
        "Asks one worker to stop fetching jobs. It finishes what it runs (within\n"
        "its grace period), then exits; under systemd, stop it or let it be\n"
        "restarted. Nothing is lost or run twice.\n";
  int first = cli_getopt (c, argc, argv, common_only, help, NULL, NULL);
  sq_err err = { 0 };
  if (first != argc - 1)
    cli_die (SQ_EXIT_USAGE,
             "drain: needs exactly one WORKER id; list them with sandq workers");
  cli_connect (c);
  int asked = sq_worker_drain (&c->p, argv[first], &err);
  if (asked < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (!asked)
    cli_die (SQ_EXIT_NOT_FOUND,
             "worker '%s': not alive; list the live ones with sandq workers",
             argv[first]);
  if (c->json)
    printf ("{\"worker\":\"%s\",\"drain\":true}\n", argv[first]);
  else
    printf ("%s: draining (it stops fetching within 2 s and exits when idle)\n",
            argv[first]);
  return SQ_EXIT_OK;
}

/* A queue something was submitted to (the set sandq:queues), or that a
 * live worker serves. */
static int
queue_known (struct cli *c, const char *q)
{
  sq_err err = { 0 };
  int known = sq_queue_known (&c->r, q, &err);
  if (known < 0)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  json_t *ws = cli_live_workers (c, 0), *w, *v;
  size_t i, k;
  json_array_foreach (ws, i, w)
  {
    json_array_foreach (json_object_get (w, "queues"), k, v) known
        |= json_is_string (v) && strcmp (json_string_value (v), q) == 0;
  }
  json_decref (ws);
  return known;
}

static int
pause_resume (struct cli *c, int argc, char **argv, int pause)
{
  const char *help
      = pause ? "usage: sandq pause [--json] --queue Q   (or: sandq pause Q)\n\n"
                "Stops every worker fetching from queue Q. Running jobs finish;\n"
                "submits are still accepted. Exit 4 if no job was ever submitted to\n"
                "Q and no live worker serves it.\n"
              : "usage: sandq resume [--json] --queue Q   (or: sandq resume Q)\n\n"
                "Lets workers fetch from queue Q again.\n";
  int first = cli_getopt (c, argc, argv, common_only, help, NULL, NULL);
  sq_err err = { 0 };
  const char *q = first == argc - 1 ? argv[first] : first == argc ? c->queue : NULL;
  if (!q || (first == argc - 1 && c->queue && strcmp (c->queue, q) != 0))
    cli_die (SQ_EXIT_USAGE,
             "%s: no queue named; give one, as in: sandq %s --queue interactive", argv[0],
             argv[0]);
  if (!sq_valid_name (q, SQ_QUEUE_MAX))
    cli_die (SQ_EXIT_USAGE, "%s: '%.80s': not a queue name; use 1-64 of [A-Za-z0-9._:-]",
             argv[0], q);
  cli_connect (c);
  if (pause && !queue_known (c, q))
    cli_die (SQ_EXIT_NOT_FOUND,
             "pause: queue '%s': unknown, nothing was ever submitted to it and no live "
             "worker serves it; list the queues with sandq stats",
             q);
  if (sq_queue_pause (&c->r, q, pause, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "%s: %s", argv[0], err.msg);
  if (c->json)
    printf ("{\"paused\":%s,\"queue\":\"%s\"}\n", pause ? "true" : "false", q);
  else
    printf ("%s: %s\n", q, pause ? "paused" : "resumed");
  return SQ_EXIT_OK;
}

int
cmd_pause (struct cli *c, int argc, char **argv)
{
  return pause_resume (c, argc, argv, 1);
}

int
cmd_resume (struct cli *c, int argc, char **argv)
{
  return pause_resume (c, argc, argv, 0);
}

/* dead list: the dead letters of one queue or of all, at most 1000 each. */
static int
dead_list (struct cli *c)
{
  sq_err err = { 0 };
  json_t *arr = json_array ();
  redisReply *qs = c->queue ? NULL : must (c, sq_queues (&c->r, &err), &err);
  size_t nq = c->queue ? 1 : (qs->type == REDIS_REPLY_ARRAY ? qs->elements : 0);
  for (size_t qi = 0; qi < nq; qi++)
    {
      const char *q = c->queue ? c->queue : qs->element[qi]->str;
      redisReply *rep = must (c, sq_dead_ids (&c->r, q, 1000, &err), &err);
      for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        {
          json_t *job = cli_job_json (c, q, rep->element[i]->str);
          if (job)
            json_array_append_new (arr, job);
        }
      freeReplyObject (rep);
    }
  if (qs)
    freeReplyObject (qs);
  if (c->json)
    {
      json_dumpf (arr, stdout, JSON_COMPACT | JSON_SORT_KEYS);
      putchar ('\n');
    }
  else
    {
      size_t i;
      json_t *j;
      char t[4 * SQ_ERR_MSG_MAX + 16];
      json_array_foreach (arr, i, j)
          printf ("%-28s %-12s %s\n", json_string_value (json_object_get (j, "id")),
                  json_string_value (json_object_get (j, "queue")),
                  cli_term_text (json_string_value (json_object_get (j, "message")), t,
                                 sizeof t));
      if (!json_array_size (arr))
        printf ("no dead letters\n");
    }
  json_decref (arr);
  return SQ_EXIT_OK;
}

int
cmd_dead (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq dead list [--queue Q] [--json]\n"
        "       sandq dead show ID\n"
        "       sandq dead retry ID\n"
        "       sandq dead purge ID | --all [--queue Q]\n\n"
        "The dead-letter set holds jobs that failed on sandq's side more than\n"
        "their max attempts, or whose workers died too often (poison pills).\n"
        "They keep their input for 7 days, so 'retry' can queue them again with\n"
        "fresh attempts; 'purge' deletes them. The set is capped at 10000 per\n"
        "queue.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "all", no_argument, 0, 'A' },
    { 0, 0, 0, 0 },
  };
  struct flag_opt all = { 'A', 0 };
  int first = cli_getopt (c, argc, argv, opts, help, flag_opt, &all);
  sq_err err = { 0 };
  char queue[SQ_QUEUE_MAX + 1];
  const char *sub = first < argc ? argv[first] : NULL;

  if (!sub)
    cli_die (SQ_EXIT_USAGE, "dead: no subcommand; give list, show, retry or purge");
  if (strcmp (sub, "list") != 0 && strcmp (sub, "show") != 0 && strcmp (sub, "retry") != 0
      && strcmp (sub, "purge") != 0)
    cli_die (SQ_EXIT_USAGE,
             "dead: '%s': unknown subcommand; give list, show, retry or purge", sub);
  cli_connect (c);
  if (strcmp (sub, "list") == 0)
    return dead_list (c);
  if (strcmp (sub, "purge") == 0 && all.set)
    {
      if (!c->queue)
        c->queue = SQ_DEFAULT_QUEUE; /* as every command */
      int n = sq_dead_purge (&c->p, c->queue, NULL, &err);
      if (n < 0)
        cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
      printf (c->json ? "{\"purged\":%d}\n" : "purged %d dead letter(s)\n", n);
      return SQ_EXIT_OK;
    }
  if (first + 2 != argc)
    cli_die (SQ_EXIT_USAGE, "dead %s: needs exactly one job ID", sub);
  const char *id = argv[first + 1];
  cli_job_queue (c, id, queue, sizeof queue);
  json_t *job = cli_job_json (c, queue, id);
  if (!job || !json_object_get (job, "dead"))
    cli_die (SQ_EXIT_NOT_FOUND,
             "job '%s': not in the dead-letter set of queue '%s'; list it with sandq "
             "dead list",
             id, queue);
  if (strcmp (sub, "show") == 0)
    cli_print_job (c, job);
  else if (strcmp (sub, "retry") == 0)
    {
      char outcome[32];
      if (sq_retry (&c->p, queue, id, SQ_DEFAULT_TTL_MS, outcome, sizeof outcome, &err)
          < 0)
        cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
      if (strcmp (outcome, "queued") != 0)
        cli_die (SQ_EXIT_FAILURE, "dead retry '%s': %s; submit the job again", id,
                 strcmp (outcome, "no_input") == 0 ? "its input has expired" : outcome);
      printf (c->json ? "{\"id\":\"%s\",\"state\":\"queued\"}\n" : "%s: queued again\n",
              id);
    }
  else /* purge: the subcommand was checked before connecting */
    {
      int n = sq_dead_purge (&c->p, queue, id, &err);
      if (n < 0)
        cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
      if (n == 0)
        cli_die (SQ_EXIT_NOT_FOUND,
                 "job '%s': no longer a dead letter of queue '%s' (retried meanwhile?); "
                 "see sandq status %s",
                 id, queue, id);
      printf (c->json ? "{\"id\":\"%s\",\"purged\":true}\n" : "%s: purged\n", id);
    }
  json_decref (job);
  return SQ_EXIT_OK;
}
