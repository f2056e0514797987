/* sandq-worker: pops jobs from Redis queues and runs each in a sandbox.
 *
 * main reads the configuration (config.c), sets up the sandboxes and the
 * archive helper, starts one thread per slot (slot.c, job.c), and then
 * the main thread supervises (supervisor.c) until SIGTERM or a drain. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../common/version.h"
#include "metrics.h"
#include "notify.h"
#include "worker.h"

static struct worker W;

static void
on_signal (int sig)
{
  (void) sig;
  W.stopping = 1;
}

/* A password Redis refuses is the configuration's fault, which no retry
 * mends: say so and stop, instead of retrying until the service manager's
 * start timeout. An unreachable Redis is waited for. */
static int
auth_refused (const struct sq_redis_addr *addr)
{
  sq_err err = { 0 };
  sq_redis probe = { .timeout_ms = 2000, .addr = *addr };
  int refused = sq_redis_connect (&probe, &err) < 0 && probe.auth_failed;
  if (refused)
    {
      sq_err_log ("cannot authenticate to Redis: %s", err.msg);
      notify_failed ("cannot authenticate to Redis: %s", err.msg);
    }
  sq_redis_close (&probe);
  return refused;
}

/* The sandbox host, slot 0's network namespace (every sandbox and archive
 * job of a slot joins its slot's: without one no job could run) and the
 * archive helper. */
static int
start_sandboxes (struct worker *w)
{
  const struct worker_config *cfg = &w->cfg;
  sq_err err = { 0 };
  struct sbx_host_config hc = {
    .uid_base = cfg->uid_base,
    .reuse_netns = 1,
    .prefetch_count = (unsigned) cfg->concurrency,
    .template_max_age_ms = cfg->template_refresh_ms,
  };
  w->host = sbx_host_new (&hc, &err);
  if (!w->host)
    {
      sq_err_log ("cannot set up sandboxes: %s", err.msg);
      return -1;
    }
  if (sbx_slot_netns (w->host, 0, &err) < 0)
    {
      sq_err_log ("cannot set up sandboxes: %s", err.msg);
      sbx_host_free (w->host);
      return -1;
    }
  w->archiver.timeout_ms = (unsigned) cfg->archive_timeout_ms;
  if (arc_helper_start (&w->archiver, &err) < 0)
    {
      sq_err_log ("cannot start the archive helper: %s", err.msg);
      sbx_host_free (w->host);
      return -1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  struct worker_config *cfg = &W.cfg;
  struct sq_redis_addr addr;
  sq_err err = { 0 };
  char redacted[600];

  sq_log_init ("sandq-worker");
  memset (&W, 0, sizeof W);
  worker_configure (cfg, argc, argv, &addr);
  sq_redis_url_redacted (&addr, redacted, sizeof redacted);
  if (auth_refused (&addr))
    return SQ_WORKER_EXIT_AUTH;
  if (start_sandboxes (&W) < 0)
    return 1;
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

  unsigned long long supervisor_commands = supervise (&W, &addr);
  metrics_stop (m);
  arc_helper_stop (&W.archiver);
  sbx_host_free (W.host);
  uint64_t jobs = 0;
  for (int i = 0; i < SQ_STATUS__COUNT; i++)
    jobs += W.stats.jobs_by_status[i];
  sq_notice ("stopped after %" PRIu64 " job(s), %" PRIu64
             " given back; redis_commands slots=%" PRIu64 " supervisor=%llu",
             jobs, W.stats.released, W.stats.slot_commands, supervisor_commands);
  return 0;
}
