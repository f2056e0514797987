#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/cleanup.h"
#include "../common/version.h"
#include "notify.h"
#include "worker.h"

/* libmicrohttpd is loaded when first needed, not linked (worker_dlload,
 * notify.c): --metrics loads the HTTP server (and the TLS stack Debian
 * builds it with), as $NOTIFY_SOCKET loads libsystemd. A worker without them maps
 * about 3.5 MiB and 80 memory areas less (its RSS, and what each clone
 * of it for a sandbox's start has to set up). The types come from the
 * libraries' own headers. */
static struct
{
  typeof (MHD_start_daemon) *start_daemon;
  typeof (MHD_stop_daemon) *stop_daemon;
  typeof (MHD_create_response_from_buffer) *create_response_from_buffer;
  typeof (MHD_add_response_header) *add_response_header;
  typeof (MHD_queue_response) *queue_response;
  typeof (MHD_destroy_response) *destroy_response;
} mhd;

static int
load_mhd (sq_err *err)
{
  static const char *const names[] = {
    "MHD_start_daemon",        "MHD_stop_daemon",    "MHD_create_response_from_buffer",
    "MHD_add_response_header", "MHD_queue_response", "MHD_destroy_response",
  };
  void *fns[SQ_ARRAY_SIZE (names)];

  if (mhd.start_daemon)
    return 0;
  if (!worker_dlload ("libmicrohttpd.so.12", names, fns, SQ_ARRAY_SIZE (names), err))
    return sq_err_wrap (err, "--metrics needs libmicrohttpd (Debian: libmicrohttpd12)");
  mhd.start_daemon = fns[0];
  mhd.stop_daemon = fns[1];
  mhd.create_response_from_buffer = fns[2];
  mhd.add_response_header = fns[3];
  mhd.queue_response = fns[4];
  mhd.destroy_response = fns[5];
  return 0;
}

const double sq_hist_bounds[SQ_HIST_BUCKETS] = {
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300,
};

void
hist_observe (struct hist *h, double v)
{
  int i = 0;
  while (i < SQ_HIST_BUCKETS && v > sq_hist_bounds[i])
    i++;
  h->counts[i]++;
  h->sum += v;
  h->n++;
}

struct metrics
{
  struct MHD_Daemon *d;
  struct worker *w;
};

struct buf
{
  char *s;
  size_t len, cap;
};

static void __attribute__ ((format (printf, 2, 3)))
out (struct buf *b, const char *fmt, ...)
{
  va_list ap;
  for (;;)
    {
      va_start (ap, fmt);
      int n = vsnprintf (b->s + b->len, b->cap - b->len, fmt, ap);
      va_end (ap);
      if (n < 0)
        return;
      if (b->len + (size_t) n < b->cap)
        {
          b->len += n;
          return;
        }
      size_t nc = b->cap * 2 + n;
      char *ns = realloc (b->s, nc);
      if (!ns)
        return;
      b->s = ns;
      b->cap = nc;
    }
}

static void
hist_out (struct buf *b, const char *name, const char *help, const struct hist *h)
{
  uint64_t cum = 0;
  out (b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  for (int i = 0; i < SQ_HIST_BUCKETS; i++)
    {
      cum += h->counts[i];
      out (b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, sq_hist_bounds[i], cum);
    }
  cum += h->counts[SQ_HIST_BUCKETS];
  out (b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
       cum, name, h->sum, name, h->n);
}

/* Per queue this worker serves: its verdicts, depth and oldest job; and
 * the jobs stopped at a limit. */
static void
render_queues (struct buf *b, const struct worker *w, const struct worker_stats *st)
{
  out (b, "# HELP sandq_worker_jobs_total Runs finished by this worker, by queue and "
          "the verdict Redis recorded.\n# TYPE sandq_worker_jobs_total counter\n");
  for (int q = 0; q < w->cfg.nqueues; q++)
    for (int s = 0; s < SQ_STATUS__COUNT; s++)
      out (b, "sandq_worker_jobs_total{queue=\"%s\",status=\"%s\"} %" PRIu64 "\n",
           w->cfg.queues[q], sq_status_name (s), st->jobs[q][s]);
  out (b,
       "# HELP sandq_worker_queue_depth Jobs waiting in each queue this worker serves.\n"
       "# TYPE sandq_worker_queue_depth gauge\n");
  for (int q = 0; q < w->cfg.nqueues; q++)
    out (b, "sandq_worker_queue_depth{queue=\"%s\"} %" PRId64 "\n", w->cfg.queues[q],
         st->queue_depth[q]);
  out (b, "# HELP sandq_worker_queue_oldest_age_seconds Age of the oldest waiting job "
          "(0 if none).\n# TYPE sandq_worker_queue_oldest_age_seconds gauge\n");
  for (int q = 0; q < w->cfg.nqueues; q++)
    out (b, "sandq_worker_queue_oldest_age_seconds{queue=\"%s\"} %.3f\n",
         w->cfg.queues[q],
         st->queue_oldest_ms[q] > 0 ? st->queue_oldest_ms[q] / 1000.0 : 0.0);
  out (b, "# HELP sandq_worker_sandbox_kills_total Jobs stopped for breaking a limit, "
          "by reason.\n"
          "# TYPE sandq_worker_sandbox_kills_total counter\n");
  for (int s = 0; s < SQ_STATUS__COUNT; s++)
    if (sq_status_is_limit (s))
      out (b, "sandq_worker_sandbox_kills_total{reason=\"%s\"} %" PRIu64 "\n",
           sq_status_name (s), st->jobs_by_status[s]);
}

/* Per network profile: its jobs and the connections refused. */
static void
render_network (struct buf *b, const struct worker *w, const struct worker_stats *st)
{
  if (!w->cfg.net.nprofiles)
    return;
  out (b, "# HELP sandq_network_jobs_total Jobs that ran with a network profile.\n"
          "# TYPE sandq_network_jobs_total counter\n");
  for (int i = 0; i < w->cfg.net.nprofiles; i++)
    out (b, "sandq_network_jobs_total{profile=\"%s\"} %" PRIu64 "\n",
         w->cfg.net.profiles[i].name, st->net_jobs[i]);
  out (b, "# HELP sandq_network_refused_total Connection attempts that the "
          "network filters of a profile's jobs refused.\n"
          "# TYPE sandq_network_refused_total counter\n");
  for (int i = 0; i < w->cfg.net.nprofiles; i++)
    out (b, "sandq_network_refused_total{profile=\"%s\"} %" PRIu64 "\n",
         w->cfg.net.profiles[i].name, st->net_refused[i]);
}

static char *
render (struct worker *w, size_t *len)
{
  struct buf b = { malloc (8192), 0, 8192 };
  struct worker_stats st;
  int busy = 0;

  if (!b.s)
    return NULL;
  pthread_mutex_lock (&w->lock);
  st = w->stats;
  for (int i = 0; i < w->cfg.concurrency; i++)
    busy += w->slots[i].state == SLOT_BUSY;
  pthread_mutex_unlock (&w->lock);

  out (&b,
       "# HELP sandq_worker_info Worker build and identity.\n"
       "# TYPE sandq_worker_info gauge\nsandq_worker_info{version=\"%s\",worker=\"%s\"} "
       "1\n",
       SANDQ_VERSION, w->cfg.id);
  render_queues (&b, w, &st);
  out (&b,
       "# HELP sandq_worker_retries_total system_error verdicts sent back for a retry.\n"
       "# TYPE sandq_worker_retries_total counter\nsandq_worker_retries_total %" PRIu64
       "\n",
       st.retries);
  out (&b,
       "# HELP sandq_worker_reclaims_total Jobs of dead workers this worker requeued.\n"
       "# TYPE sandq_worker_reclaims_total counter\nsandq_worker_reclaims_total %" PRIu64
       "\n",
       st.reclaims_seen);
  out (&b,
       "# HELP sandq_worker_cancels_total Running jobs stopped by a cancel.\n"
       "# TYPE sandq_worker_cancels_total counter\nsandq_worker_cancels_total %" PRIu64
       "\n",
       st.jobs_by_status[SQ_STATUS_CANCELLED]);
  out (&b,
       "# HELP sandq_worker_dead_letters_total Jobs this worker sent to the dead-letter "
       "set.\n"
       "# TYPE sandq_worker_dead_letters_total counter\nsandq_worker_dead_letters_total "
       "%" PRIu64 "\n",
       st.dead_letters);
  out (&b,
       "# HELP sandq_worker_stale_total Verdicts refused because the lease was taken "
       "over.\n"
       "# TYPE sandq_worker_stale_total counter\nsandq_worker_stale_total %" PRIu64 "\n",
       st.stale);
  out (&b,
       "# HELP sandq_worker_cleanup_failures_total Sandboxes not cleaned up after "
       "their run (init killed late, or the job's cgroup left behind).\n"
       "# TYPE sandq_worker_cleanup_failures_total counter\n"
       "sandq_worker_cleanup_failures_total %" PRIu64 "\n",
       st.cleanup_failures);
  render_network (&b, w, &st);
  out (&b,
       "# HELP sandq_worker_released_total Jobs given back to the queue at shutdown.\n"
       "# TYPE sandq_worker_released_total counter\nsandq_worker_released_total %" PRIu64
       "\n",
       st.released);
  out (&b,
       "# HELP sandq_worker_slots Job slots of this worker.\n# TYPE sandq_worker_slots "
       "gauge\n"
       "sandq_worker_slots %d\n",
       w->cfg.concurrency);
  out (&b,
       "# HELP sandq_worker_busy_slots Slots running a job.\n# TYPE "
       "sandq_worker_busy_slots gauge\n"
       "sandq_worker_busy_slots %d\n",
       busy);
  out (&b,
       "# HELP sandq_worker_redis_up 1 if the last Redis call succeeded.\n"
       "# TYPE sandq_worker_redis_up gauge\nsandq_worker_redis_up %d\n",
       w->redis_up ? 1 : 0);
  out (&b,
       "# HELP sandq_worker_draining 1 while draining or stopping.\n"
       "# TYPE sandq_worker_draining gauge\nsandq_worker_draining %d\n",
       (w->draining || w->stopping) ? 1 : 0);
  hist_out (&b, "sandq_worker_queue_wait_seconds", "Time from submit to start.",
            &st.queue_wait);
  hist_out (&b, "sandq_worker_run_seconds", "Wall time of the sandboxed program.",
            &st.run_time);
  hist_out (&b, "sandq_worker_unpack_seconds", "Time to unpack the input.",
            &st.unpack_time);
  hist_out (&b, "sandq_worker_upload_seconds", "Time to store the verdict and result.",
            &st.upload_time);
  *len = b.len;
  return b.s;
}

static enum MHD_Result
handle (void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *data, size_t *size, void **ptr)
{
  struct metrics *m = cls;
  struct MHD_Response *r;
  enum MHD_Result ret;
  (void) version;
  (void) data;
  (void) size;
  (void) ptr;

  if (strcmp (method, "GET") != 0)
    {
      r = mhd.create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
      ret = mhd.queue_response (c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    }
  else if (strcmp (url, "/metrics") != 0)
    {
      static const char nf[] = "not found: try /metrics\n";
      r = mhd.create_response_from_buffer (sizeof nf - 1, (void *) nf,
                                           MHD_RESPMEM_PERSISTENT);
      ret = mhd.queue_response (c, MHD_HTTP_NOT_FOUND, r);
    }
  else
    {
      size_t len;
      char *body = render (m->w, &len);
      r = mhd.create_response_from_buffer (len, body, MHD_RESPMEM_MUST_FREE);
      mhd.add_response_header (r, "Content-Type", "text/plain; version=0.0.4");
      ret = mhd.queue_response (c, MHD_HTTP_OK, r);
    }
  mhd.destroy_response (r);
  return ret;
}

int
metrics_parse_addr (const char *addr, struct sockaddr_in *sin, sq_err *err)
{
  const char *colon = strrchr (addr, ':');
  char host[128] = "127.0.0.1";
  long port;

  memset (sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  if (!colon)
    return sq_err_set (
        err, 0, "--metrics '%s': not HOST:PORT; write one such as 127.0.0.1:9464", addr);
  port = strtol (colon + 1, NULL, 10);
  if (port < 1 || port > 65535)
    return sq_err_set (err, 0, "--metrics '%s': bad port; use 1 to 65535", addr);
  if (colon > addr)
    snprintf (host, sizeof host, "%.*s", (int) (colon - addr), addr);
  if (inet_pton (AF_INET, host, &sin->sin_addr) != 1)
    return sq_err_set (err, 0,
                       "--metrics '%s': the host is not an IPv4 address; write one such "
                       "as 127.0.0.1:9464",
                       addr);
  sin->sin_port = htons ((uint16_t) port);
  return 0;
}

struct metrics *
metrics_start (struct worker *w, const char *addr, sq_err *err)
{
  struct sockaddr_in sin;
  struct metrics *m;

  if (metrics_parse_addr (addr, &sin, err) < 0)
    return NULL;
  if (load_mhd (err) < 0)
    return NULL;
  m = calloc (1, sizeof *m);
  m->w = w;
  m->d = mhd.start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                           NULL, handle, m, MHD_OPTION_SOCK_ADDR, &sin,
                           MHD_OPTION_CONNECTION_LIMIT, 16U,
                           MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
  if (!m->d)
    {
      sq_err_set (err, errno, "cannot listen on %s", addr);
      free (m);
      return NULL;
    }
  return m;
}

void
metrics_stop (struct metrics *m)
{
  if (!m)
    return;
  mhd.stop_daemon (m->d);
  free (m);
}
