/* Where the queue and the sandbox meet: one claimed job, from its spec and
 * input tarball to a verdict and a result archive in Redis.
 *
 * This is the only file that sees both sides.
 */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/seal.h"
#include "../common/util.h"

static void
apply_spec_limits (struct sbx_limits *lim, const struct sq_spec *spec)
{
  for (int i = 0; i < SQ_LIM__COUNT; i++)
    if (spec->limits[i])
      sbx_limits_set (lim, (enum sq_limit) i, spec->limits[i]);
}

static char *
result_json (const struct sbx_result *r, const char *status, const char *message,
             const struct arc_counts *outs, int with_net)
{
  json_t *o = json_object ();
  char *s;
  json_object_set_new (o, "status", json_string (status));
  json_object_set_new (o, "message", json_string (message));
  json_object_set_new (o, "exit_code",
                       r->exit_code >= 0 ? json_integer (r->exit_code) : json_null ());
  json_object_set_new (o, "signal",
                       r->signal > 0 ? json_integer (r->signal) : json_null ());
#define FIGURE(member)                                                                   \
  json_object_set_new (o, #member, json_integer ((json_int_t) r->member));
  SBX_RESULT_FIGURES (FIGURE)
#undef FIGURE
  if (with_net)
    {
      json_object_set_new (o, "net_refused", json_integer ((json_int_t) r->net_refused));
      json_object_set_new (o, "net_refused_to", json_string (r->net_refused_to));
    }
  if (outs) /* else the archive process appends them */
    {
      json_object_set_new (
          o, "out_files",
          json_integer ((json_int_t) (outs->out_entries - outs->out_skipped)));
      json_object_set_new (o, "out_skipped",
                           json_integer ((json_int_t) outs->out_skipped));
      json_object_set_new (o, "out_truncated", json_boolean (outs->out_truncated));
    }
  s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return s;
}

/* Packs result.json + stdout + stderr + out/ into a tar.gz, in the job's
 * archive process. If out/ does not fit under the cap, it is left out and
 * the message says so. */
static int
build_archive (struct worker *w, struct slot *s, struct sbx *b,
               const struct sbx_result *r, int with_net, int so, int se, char *message,
               size_t msglen, void **arch, size_t *alen, struct arc_counts *outs,
               sq_err *err)
{
  /* All but the out/ counts, which the archive process appends. */
  char *rj = result_json (r, sq_status_name (r->status), message, NULL, with_net);
  if (!rj)
    return sq_err_set (err, ENOMEM, "result.json");
  int rc = archiver_pack (&s->arc, so, se, sbx_out_fd (b), rj, strlen (rj) - 1, outs,
                          arch, alen, err);
  free (rj);
  if (rc == 1)
    {
      char cap[32];
      size_t ml = strlen (message);
      sq_format_size (w->cfg.max_result_bytes, cap, sizeof cap);
      snprintf (message + ml, msglen - ml,
                "; its out/ was larger than the result cap of %s and was left out", cap);
      rj = result_json (r, sq_status_name (r->status), message, outs, with_net);
      if (!rj)
        return sq_err_set (err, ENOMEM, "result.json");
      rc = archiver_finish (&s->arc, rj, strlen (rj), outs, arch, alen, err);
      free (rj);
    }
  return rc == 1 ? sq_err_set (err, EIO, "the archive helper left out/ out twice") : rc;
}

/* Keeps what the claim sent behind a verdict got, for the slot's next
 * round (slot_main); a job it got is held, its lease renewed, even while
 * the verdict is retried. */
static void
claimed_behind (struct slot *s, struct sq_proto *p)
{
  s->next_rc = sq_claim_behind_result (p, &s->next);
  if (s->next_rc == 1)
    slot_hold (s);
}

/* Reports a verdict; retries across Redis outages while the lease may
 * still be ours. */
static void
report (struct slot *s, struct sq_proto *p, const char *status, const char *message,
        const void *arch, size_t alen, const char *const *fields, int nfields,
        unsigned attempts)
{
  struct worker *w = s->w;
  struct sq_completion c = {
    .status = status,
    .message = message,
    .result = arch,
    .result_len = alen,
    .retry_backoff_ms = 1000ULL << (attempts < 6 ? attempts : 6),
    .fields = fields,
    .nfields = nfields,
  };
  char outcome[32] = "";
  sq_err err = { 0 };

  for (unsigned i = 0; !w->releasing || i == 0; i++)
    {
      /* The slot's next claim rides behind the verdict, in its round
       * trip, unless the worker is stopping. */
      int behind = i == 0 && !w->stopping && !w->draining && !w->releasing;
      if (behind)
        sq_claim_behind (p, w->cfg.queues[0], w->cfg.id, w->cfg.lease_ms);
      int rc
          = sq_complete (p, s->queue, s->id, s->token, &c, outcome, sizeof outcome, &err);
      if (behind)
        claimed_behind (s, p);
      if (rc == 0)
        break;
      sq_warn ("report %s: %s; retrying", status, err.msg);
      sq_redis_backoff (i);
      if (i > 200)
        {
          sq_err_log ("giving up reporting after %u tries; the lease will expire "
                      "and another worker will run the job",
                      i);
          return;
        }
    }
  /* Counted by the verdict Redis recorded: none for a stale one, and
   * cancelled for a system_error of a job cancelled meanwhile. */
  bool cancelled = strcmp (outcome, "cancelled") == 0;
  bool stale = strcmp (outcome, "stale") == 0;
  int st = stale ? -1 : sq_status_from_name (cancelled ? "cancelled" : status);
  pthread_mutex_lock (&w->lock);
  if (st >= 0)
    {
      w->stats.jobs_by_status[st]++;
      for (int q = 0; q < w->cfg.nqueues; q++)
        if (strcmp (w->cfg.queues[q], s->queue) == 0)
          w->stats.jobs[q][st]++;
    }
  if (stale)
    w->stats.stale++;
  if (strcmp (outcome, "retry") == 0)
    w->stats.retries++;
  if (strcmp (outcome, "dead") == 0)
    w->stats.dead_letters++;
  pthread_mutex_unlock (&w->lock);
  if (stale)
    sq_warn ("verdict %s not recorded: the lease was taken over (the job ran "
             "elsewhere)",
             status);
  else if (cancelled)
    sq_notice ("verdict %s recorded as cancelled: the job was cancelled while it ran",
               status);
}

static void
log_line (struct slot *s, const char *status, const struct sbx_result *r,
          uint64_t total_ms, uint64_t unpack_ms, uint64_t upload_ms, int attempts)
{
  sq_info ("queue=%s status=%s exit=%d signal=%d wall_ms=%" PRIu64 " cpu_ms=%" PRIu64
           " mem_peak=%" PRIu64 " stdout=%" PRIu64 " stderr=%" PRIu64 " total_ms=%" PRIu64
           " unpack_ms=%" PRIu64 " upload_ms=%" PRIu64 " attempt=%d slot=%d",
           s->queue, status, r->exit_code, r->signal, r->wall_ms, r->cpu_ms,
           r->memory_peak_bytes, r->stdout_bytes, r->stderr_bytes, total_ms, unpack_ms,
           upload_ms, attempts, s->idx);
}

/* A job that could not run: its verdict is the error's fault (the
 * input's: rejected; sandq's: system_error, retried elsewhere). */
static void
fail_job (struct slot *s, struct sq_proto *p, const struct sq_claimed *c,
          const struct sbx_result *res, const sq_err *err)
{
  const char *status = sq_fault_status (err);
  sq_warn ("%s: %s", status, err->msg);
  report (s, p, status, err->msg, NULL, 0, NULL, 0, c->attempts);
  log_line (s, status, res, 0, 0, 0, c->attempts);
}

/* The result archives of the jobs the spec chains, from its own queue,
 * together at most the result cap. A missing one is the spec's fault. */
static int
fetch_chained (struct slot *s, struct sq_proto *p, const struct sq_spec *spec,
               redisReply **out, sq_err *err)
{
  uint64_t total = 0;
  for (int i = 0; i < spec->ninputs; i++)
    {
      out[i] = sq_result_get (p->r, s->queue, spec->inputs[i].job, err);
      if (!out[i])
        return -1;
      if (out[i]->type != REDIS_REPLY_STRING)
        {
          sq_err_set (err, 0,
                      "spec.inputs[%d]: job '%s' of queue '%s' has no result (not "
                      "finished, rejected, or expired)",
                      i, spec->inputs[i].job, s->queue);
          return sq_err_input (err);
        }
      if (sq_is_sealed (out[i]->str, out[i]->len))
        {
          sq_err_set (err, 0,
                      "spec.inputs[%d]: job '%s''s result is sealed to its submitter's "
                      "key; a sealed result cannot be another job's input",
                      i, spec->inputs[i].job);
          return sq_err_input (err);
        }
      total += out[i]->len;
    }
  if (total > s->w->cfg.max_result_bytes)
    {
      char cap[32];
      sq_format_size (s->w->cfg.max_result_bytes, cap, sizeof cap);
      sq_err_set (err, 0,
                  "spec.inputs: the earlier jobs' results add up to more than this "
                  "worker's result cap of %s",
                  cap);
      return sq_err_input (err);
    }
  return 0;
}

/* One job's run through the worker, from the claim to the report. */
struct run
{
  struct sq_spec spec;
  int have_spec;
  struct sbx_limits lim;
  uint64_t asked_output; /* the spec's output cap, before the result cap */
  struct sbx_result res;
  sq_err err;
  struct sbx *b;
  int so, se; /* memfds: the program's stdout and stderr */
  uint64_t t0, t_unpack;
  struct job_network *jn;
  redisReply *chained[SQ_SPEC_MAX_INPUTS];
  /* The program and its environment, once set (set_exec). */
  struct sbx_exec ex;
  char *envp[SQ_SPEC_MAX_ENV + SQ_MAX_NETWORKS * SQ_NETWORK_MAX_ENV + 16];
};

/* The spec, the limits, the networks and chained results, and the
 * sandbox: everything up to unpacking. 0, or -1 and r->err. */
static int
prepare (struct slot *s, struct sq_proto *p, const struct sq_claimed *c, struct run *r)
{
  struct worker *w = s->w;

  if (sq_spec_parse (c->spec, c->spec_len, &w->cfg.policy, &r->spec, &r->err) < 0)
    return -1;
  r->have_spec = 1;
  apply_spec_limits (&r->lim, &r->spec);
  /* stdout and stderr travel in the result archive, whose cap is the
   * worker's: an output cap above it could only end in a result too
   * large to keep, which is nobody's fault but the limits'. The job gets
   * the lower cap (room for the archive's headers and result.json left),
   * and its verdict names both. */
  r->asked_output = r->lim.output_bytes;
  uint64_t room = w->cfg.max_result_bytes > 2 * SQ_RESULT_HEADROOM
                      ? w->cfg.max_result_bytes - SQ_RESULT_HEADROOM
                      : w->cfg.max_result_bytes / 2;
  if (r->lim.output_bytes > room)
    r->lim.output_bytes = room;
  if (sbx_limits_check (&r->lim, &r->err) < 0)
    return -1;
  /* The job's network profiles, resolved now: the names' addresses go
   * into its filter and its /etc/hosts from the same answer. */
  r->jn = calloc (1, sizeof *r->jn);
  if (!r->jn)
    return sq_err_set (&r->err, ENOMEM, "the job's network");
  if (netcfg_for_job (&w->cfg.net, s->queue, &r->spec, r->jn, &r->err) < 0)
    return -1;
  /* Earlier jobs' results, as inputs: fetched here, unpacked by the job
   * process like the input (the worker never parses them). */
  if (fetch_chained (s, p, &r->spec, r->chained, &r->err) < 0)
    return -1;
  r->b = sbx_new (w->host, &r->lim, (unsigned) s->idx, &r->err);
  if (!r->b || (r->jn->mask && sbx_set_network (r->b, &r->jn->net, &r->err) < 0))
    return -1;
  return 0;
}

static void job_env (const struct run *r, char **envp);

/* r->ex: the program, its environment, its output memfds; once. */
static void
set_exec (struct run *r)
{
  if (r->ex.argv)
    return;
  job_env (r, r->envp);
  r->ex = (struct sbx_exec){ r->spec.argv, r->envp, -1, r->so, r->se };
}

/* Sends the job to the sandbox's init, which makes ready for it while the
 * inputs are unpacked; sbx_run starts it. A failure here is sbx_run's
 * to report. */
static void
stage_job (void *arg)
{
  struct run *r = arg;
  sq_err err = { 0 };

  set_exec (r);
  sbx_stage (r->b, &r->ex, &err);
}

/* The input and the chained results into the job's disk, by the archive
 * helper's job process in the job's memory cgroup (the input's pages are
 * the job's). 0, or -1 and r->err. */
static int
unpack_inputs (struct slot *s, struct run *r, const struct sq_claimed *c)
{
  struct worker *w = s->w;
  struct arc_unpack_args ua = {
    .work_fd = sbx_work_fd (r->b),
    .uid = sbx_uid (r->b),
    .disk_bytes = r->lim.disk_bytes,
    .disk_inodes = r->lim.disk_inodes,
    .memory_bytes = r->lim.memory_bytes,
    .max_result = w->cfg.max_result_bytes,
    .input = c->input,
    .input_len = c->input_len,
    .nchained = (unsigned) r->spec.ninputs,
    .during = stage_job,
    .during_ctx = r,
  };
  int unpacked;

  for (int i = 0; i < r->spec.ninputs; i++)
    {
      ua.chained[i].archive = r->chained[i]->str;
      ua.chained[i].len = r->chained[i]->len;
      snprintf (ua.chained[i].select, sizeof ua.chained[i].select, "out%s%s",
                r->spec.inputs[i].path[0] ? "/" : "", r->spec.inputs[i].path);
    }
  if (sbx_charge_files (r->b, &ua.join_fd, &ua.leave_fd, &r->err) < 0)
    return -1;
  unpacked
      = archiver_unpack (&s->arc, &w->archiver,
                         sbx_slot_netns_fd (w->host, (unsigned) s->idx), &ua, &r->err);
  close (ua.join_fd);
  close (ua.leave_fd);
  if (unpacked < 0 && r->err.fault != SQ_FAULT_INPUT && sbx_oom_killed (r->b))
    {
      /* The kernel stopped the unpacking at the job's memory limit. */
      sq_err_inputs_memory (&r->err, r->lim.memory_bytes);
      sq_err_wrap (&r->err, "input");
    }
  return unpacked;
}

/* The job's environment: the defaults, the profiles' variables, then the
 * spec's; a later one replaces an earlier one of the same name. */
static void
job_env (const struct run *r, char **envp)
{
  int ne = 0;

  for (int i = 0; sbx_default_env[i]; i++)
    envp[ne++] = sbx_default_env[i];
  for (int i = 0; i < r->jn->nenv + r->spec.nenv; i++)
    {
      char *kv = i < r->jn->nenv ? (char *) r->jn->env[i] : r->spec.env[i - r->jn->nenv];
      size_t kl = strchr (kv, '=') - kv + 1;
      int j;
      for (j = 0; j < ne && strncmp (envp[j], kv, kl) != 0; j++)
        ;
      envp[j] = kv;
      if (j == ne)
        ne++;
    }
  envp[ne] = NULL;
}

/* Runs the program, its output live to the slot's readers. Returns 1 if
 * the job is to go back to the queue (the worker is shutting down), else
 * 0 with r->res the run's verdict. */
static int
run_program (struct slot *s, struct run *r)
{
  struct worker *w = s->w;
  int rc;

  set_exec (r);
  pthread_mutex_lock (&w->lock);
  s->sbx = r->b;
  /* A sealed job's output stays off Redis until it is sealed. */
  s->live_fd[0] = r->spec.sealed ? -1 : r->so;
  s->live_fd[1] = r->spec.sealed ? -1 : r->se;
  s->live_off[0] = s->live_off[1] = s->live_sent = 0;
  s->live_done = 0;
  int pre_cancel = s->cancel || s->lost || w->releasing;
  pthread_mutex_unlock (&w->lock);
  if (pre_cancel)
    sbx_cancel (r->b);
  if (s->backlog)
    sbx_warm_next_now (r->b);
  /* The result is packed while init exits (finish). */
  sbx_settle_later (r->b);
  rc = sbx_run (r->b, &r->ex, &r->res, &r->err);
  pthread_mutex_lock (&w->lock);
  s->sbx = NULL;
  s->live_fd[0] = s->live_fd[1] = -1;
  int release = s->release
                || (w->releasing && r->res.status == SQ_STATUS_CANCELLED && !s->cancel);
  pthread_mutex_unlock (&w->lock);
  if (rc < 0 && r->res.status != SQ_STATUS_SYSTEM_ERROR)
    r->res.status = SQ_STATUS_SYSTEM_ERROR;
  return release;
}

void
job_release (struct slot *s, struct sq_proto *p, const char *queue, const char *id,
             const char *token)
{
  sq_err rerr = { 0 };

  int rc = sq_release (p, queue, id, token, &rerr);
  if (rc < 0)
    {
      sq_warn ("release: %s (the lease will expire instead)", rerr.msg);
      return;
    }
  if (rc == 0)
    {
      /* Taken over, cancelled or finished meanwhile: whoever holds it
       * now decides its fate. */
      sq_warn ("release: the job's lease is no longer this worker's; nothing given back");
      return;
    }
  if (rc == 2)
    {
      sq_notice ("cancelled before the grace period ran out: it ends cancelled, not "
                 "queued again");
      return;
    }
  sq_notice ("released back to the queue at shutdown");
  pthread_mutex_lock (&s->w->lock);
  s->w->stats.released++;
  pthread_mutex_unlock (&s->w->lock);
}

/* The record's figures, as name, value pairs into fields (values in f);
 * returns how many strings. */
static int
record_fields (const struct run *r, size_t alen, const struct arc_counts *outs,
               char (*f)[32], const char **fields, int max)
{
  int nf = 0;

#define FIELD(name, fmt, val)                                                            \
  do                                                                                     \
    {                                                                                    \
      if (nf / 2 >= max)                                                                 \
        {                                                                                \
          sq_err_log ("job record: no room for the figure %s", name);                    \
          break;                                                                         \
        }                                                                                \
      snprintf (f[nf / 2], 32, fmt, val);                                                \
      fields[nf++] = name;                                                               \
      fields[nf] = f[nf / 2];                                                            \
      nf++;                                                                              \
    }                                                                                    \
  while (0)
  FIELD ("exit_code", "%d", r->res.exit_code);
  FIELD ("signal", "%d", r->res.signal);
#define FIGURE(member) FIELD (#member, "%" PRIu64, r->res.member);
  SBX_RESULT_FIGURES (FIGURE)
#undef FIGURE
  FIELD ("result_bytes", "%zu", alen);
  FIELD ("out_files", "%" PRIu64, outs->out_entries - outs->out_skipped);
  FIELD ("unpack_ms", "%" PRIu64, r->t_unpack);
  if (r->jn->mask)
    FIELD ("net_refused", "%" PRIu64, r->res.net_refused);
#undef FIELD
  return nf;
}

/* After the report: waits for the sandbox's init to exit (it tears down
 * the sandbox's namespaces meanwhile) and removes the job's cgroup. The
 * verdict and out/ were final before (sbx_settle_later: nothing of the
 * job was left to change them), so a failure here is the host's, not the
 * job's: logged and counted, and the verdict stands. */
static void
settle (struct slot *s, struct run *r)
{
  sq_err err = { 0 };

  if (sbx_settle (r->b, &err) == 0)
    return;
  sq_err_log ("the sandbox was not cleaned up after (%s); the job's verdict stands",
              err.msg);
  pthread_mutex_lock (&s->w->lock);
  s->w->stats.cleanup_failures++;
  pthread_mutex_unlock (&s->w->lock);
}

/* The verdict's sentence, the result archive, the record, the report, the
 * sandbox's cleanup and the worker's figures, after a run. */
static void
finish (struct slot *s, struct sq_proto *p, const struct sq_claimed *c, struct run *r)
{
  struct worker *w = s->w;
  /* The record's figures: record_fields fills a name and a value each,
   * and refuses one past the end (a new figure needs a bigger array). */
  char f[12][32];
  const char *fields[2 * SQ_ARRAY_SIZE (f)];
  _Static_assert(SQ_ARRAY_SIZE (fields) == 2 * SQ_ARRAY_SIZE (f), "a name per value");
  char message[SQ_ERR_MSG_MAX + 128];
  struct arc_counts outs = { 0 };
  void *arch = NULL;
  size_t alen = 0;
  uint64_t t_up;

  snprintf (message, sizeof message, "%s", r->res.message);
  if (r->res.status == SQ_STATUS_OUTPUT_LIMIT && r->lim.output_bytes < r->asked_output)
    {
      char a[32], m[32];
      size_t ml = strlen (message);
      sq_format_size (r->asked_output, a, sizeof a);
      sq_format_size (w->cfg.max_result_bytes, m, sizeof m);
      snprintf (message + ml, sizeof message - ml,
                " (the job allowed %s, but this worker's result cap of %s keeps "
                "stdout and stderr below that)",
                a, m);
    }
  if (build_archive (w, s, r->b, &r->res, r->jn->mask != 0, r->so, r->se, message,
                     sizeof message, &arch, &alen, &outs, &r->err)
      < 0)
    {
      snprintf (message, sizeof message, "sandq could not pack the result: %s",
                r->err.msg);
      r->res.status = SQ_STATUS_SYSTEM_ERROR;
      arch = NULL;
      alen = 0;
    }
  void *sealed = NULL;
  if (arch && r->spec.sealed)
    {
      size_t slen = 0;
      sealed = sq_seal (arch, alen, r->spec.seal_to, &slen, &r->err);
      archiver_free (arch, alen);
      arch = sealed;
      alen = sealed ? slen : 0;
      if (!sealed)
        {
          snprintf (message, sizeof message, "sandq could not seal the result: %s",
                    r->err.msg);
          r->res.status = SQ_STATUS_SYSTEM_ERROR;
        }
    }
  int nf = record_fields (r, alen, &outs, f, fields, (int) SQ_ARRAY_SIZE (f));
  t_up = sq_now_ms ();
  report (s, p, sq_status_name (r->res.status), message, arch, alen, fields, nf,
          c->attempts);
  t_up = sq_now_ms () - t_up;
  settle (s, r);
  log_line (s, sq_status_name (r->res.status), &r->res, sq_now_ms () - r->t0, r->t_unpack,
            t_up, c->attempts);
  pthread_mutex_lock (&w->lock);
  if (c->created_ms && sq_wall_ms () > c->created_ms)
    hist_observe (&w->stats.queue_wait,
                  (sq_wall_ms () - c->created_ms - (sq_now_ms () - r->t0)) / 1000.0);
  hist_observe (&w->stats.run_time, r->res.wall_ms / 1000.0);
  hist_observe (&w->stats.unpack_time, r->t_unpack / 1000.0);
  hist_observe (&w->stats.upload_time, t_up / 1000.0);
  for (int i = 0; i < SQ_MAX_NETWORKS; i++)
    if (r->jn->mask & (1u << i))
      {
        w->stats.net_jobs[i]++;
        w->stats.net_refused[i] += r->res.net_refused;
      }
  pthread_mutex_unlock (&w->lock);
  if (sealed)
    free (sealed);
  else
    archiver_free (arch, alen);
}

void
job_run (struct slot *s, struct sq_proto *p, struct sq_claimed *c)
{
  struct run run = { 0 }, *r = &run;

  sq_log_set_job (c->id);
  r->lim = s->w->cfg.defaults;
  r->res.exit_code = -1;
  r->so = r->se = -1;
  r->t0 = sq_now_ms ();
  if (prepare (s, p, c, r) < 0)
    fail_job (s, p, c, &r->res, &r->err);
  else
    {
      r->t_unpack = sq_now_ms ();
      r->so = memfd_create ("stdout", MFD_CLOEXEC);
      r->se = memfd_create ("stderr", MFD_CLOEXEC);
      if (unpack_inputs (s, r, c) < 0)
        fail_job (s, p, c, &r->res, &r->err);
      else
        {
          r->t_unpack = sq_now_ms () - r->t_unpack;
          if (run_program (s, r))
            job_release (s, p, s->queue, s->id, s->token);
          else
            finish (s, p, c, r);
        }
    }
  if (r->b)
    archiver_done (&s->arc);
  sbx_free (r->b);
  if (r->so >= 0)
    close (r->so);
  if (r->se >= 0)
    close (r->se);
  for (int i = 0; i < SQ_SPEC_MAX_INPUTS; i++)
    if (r->chained[i])
      freeReplyObject (r->chained[i]);
  free (r->jn);
  if (r->have_spec)
    sq_spec_free (&r->spec);
  sq_log_set_job (NULL);
}
