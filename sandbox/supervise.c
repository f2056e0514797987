/* A run, from the job sent to the verdict: the supervisor's poll loop
 * (wall clock, CPU cap, cancel), then what is observed of the finished
 * run (init's reports, the output page, the cgroup's counters, the
 * scratch disk), handed to sbx_decide (verdict.c) for the verdict.
 *
 * init passes the program's output on itself (init_proto.h); this thread
 * only keeps time and kills. Killing init ends the whole PID namespace.
 */
#define _GNU_SOURCE
#include "init_proto.h"
#include "internal.h"
#include "verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"

/* How often the CPU cap is checked against the cgroup's counter. */
#define CPU_POLL_MS 20

/* While init runs: the first kill this thread sent it, if any. */
struct supervisor
{
  int pidfd;
  enum sbx_kill_reason killed;
};

/* init's reports, as read so far (read_reports). Records are small:
 * texts of a few hundred bytes at most, and the status last. */
struct reports
{
  char buf[4096];
  size_t len;
};

static void
kill_job (struct supervisor *s, enum sbx_kill_reason why)
{
  if (s->killed != SBX_KILL_NONE)
    return;
  s->killed = why;
  syscall (SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

/* Reads what init has reported so far (fd is non-blocking): 1 at its
 * end (init closed the pipe after its last record, or died), else 0. */
static int
read_reports (int fd, struct reports *rp)
{
  for (;;)
    {
      ssize_t n = read (fd, rp->buf + rp->len, sizeof rp->buf - 1 - rp->len);
      if (n > 0)
        rp->len += (size_t) n;
      else if (n < 0 && errno == EINTR)
        continue;
      else
        return n == 0 && rp->len < sizeof rp->buf - 1;
    }
}

static void
parse_reports (struct reports *rp, struct sbx_observed *o)
{
  char *buf = rp->buf;
  size_t len = rp->len;

  /* Records: REC_SETUP or REC_EXEC text run to the next record byte only
   * when followed by a status, which is always last and fixed-size. */
  if (len >= 1 + sizeof (int) && buf[len - 1 - sizeof (int)] == REC_STATUS)
    {
      memcpy (&o->wait_status, buf + len - sizeof (int), sizeof (int));
      o->have_status = 1;
      len -= 1 + sizeof (int);
    }
  buf[len] = '\0';
  if (len > 0 && buf[0] == REC_SETUP)
    {
      o->setup_failed = 1;
      snprintf (o->setup_error, sizeof o->setup_error, "%s", buf + 1);
    }
  else if (len > 0 && buf[0] == REC_EXEC)
    {
      o->exec_failed = 1;
      snprintf (o->exec_error, sizeof o->exec_error, "%s", buf + 1);
    }
}

/* The page init reports the output in (init_proto.h), mapped read-only;
 * NULL and err on failure, else *fd holds its memfd. */
static struct init_output *
output_page (int *fd, sq_err *err)
{
  void *p;

  *fd = memfd_create ("sandq-output", MFD_CLOEXEC);
  if (*fd < 0 || ftruncate (*fd, sizeof (struct init_output)) < 0)
    {
      sq_err_set (err, errno, "make the output page");
      return NULL;
    }
  p = mmap (NULL, sizeof (struct init_output), PROT_READ, MAP_SHARED, *fd, 0);
  if (p == MAP_FAILED)
    {
      sq_err_set (err, errno, "map the output page");
      return NULL;
    }
  return p;
}

/* Whether the job is over but for init's exit: init has sent its last
 * record and closed its report pipe, and the job's pids cgroup holds
 * nothing but init (no process of the job left to touch its files). */
static int
over_but_init (struct sbx *b, struct reports *rp)
{
  uint64_t tasks;

  return read_reports (b->rep_rd, rp) == 1
         && cg_job_tasks (&b->host->cg, &b->job, &tasks) == 0 && tasks == 1;
}

/* Waits for init to end, keeping the wall clock (from start_us), the CPU
 * cap and a cancel: the first limit hit kills it. With settle_later it
 * returns as soon as over_but_init, and *early says so; init's exit is
 * then sbx_settle's to wait for. Returns the kill sent, if any. */
static enum sbx_kill_reason
supervise (struct sbx *b, uint64_t start_us, struct reports *rp, int *early,
           struct sbx_observed *obs)
{
  struct supervisor s = { .pidfd = b->pidfd };
  uint64_t deadline_ms = start_us / 1000 + b->lim.wall_ms;
  uint64_t next_cpu_ms = start_us / 1000 + CPU_POLL_MS;
  int rep_fd = b->settle_later ? b->rep_rd : -1;

  *early = 0;
  for (;;)
    {
      struct pollfd pf[3] = {
        { b->pidfd, POLLIN, 0 },
        { b->cancel_fd, POLLIN, 0 },
        { rep_fd, POLLIN, 0 },
      };
      uint64_t now = sq_now_ms ();
      uint64_t next = deadline_ms < next_cpu_ms ? deadline_ms : next_cpu_ms;
      int n = poll (pf, 3, next > now ? (int) (next - now) : 0);
      if (n < 0 && errno != EINTR)
        {
          /* Nothing left to watch the limits with: the job ends, and the
           * wait below is for its last process. */
          obs->watch_errno = errno;
          kill_job (&s, SBX_KILL_WATCH);
          break;
        }
      if (pf[1].revents & POLLIN)
        kill_job (&s, SBX_KILL_CANCEL);
      if (pf[0].revents & POLLIN)
        break;
      if (pf[2].revents)
        {
          if (over_but_init (b, rp))
            {
              *early = 1;
              return s.killed;
            }
          /* Ended, with processes left that init's exit will kill: wait
           * for it. Or more to read later. */
          if ((pf[2].revents & (POLLHUP | POLLERR)) || rp->len >= sizeof rp->buf - 1)
            rep_fd = -1;
        }
      now = sq_now_ms ();
      if (now >= deadline_ms)
        kill_job (&s, SBX_KILL_TIMEOUT);
      if (now >= next_cpu_ms)
        {
          uint64_t ns;
          if (cg_job_cpu_ns (&b->host->cg, &b->job, &ns) == 0
              && ns / 1000000 >= b->lim.cpu_ms)
            kill_job (&s, SBX_KILL_CPU);
          next_cpu_ms = now + CPU_POLL_MS;
        }
    }
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
  return s.killed;
}

/* What a finished run left behind: init's reports and output page, the
 * cgroup's counters, and the scratch disk's fill, into obs and the
 * figures of res. */
static void
observe (struct sbx *b, const struct init_output *out, struct reports *rp,
         struct sbx_observed *obs, struct sbx_result *res)
{
  struct cg_stats cs;
  struct statfs sf;

  res->stdout_bytes = out->bytes[0];
  res->stderr_bytes = out->bytes[1];
  obs->output_capped = out->capped;
  if (!obs->sink_errno)
    obs->sink_errno = out->sink_errno;
  read_reports (b->rep_rd, rp);
  parse_reports (rp, obs);
  cg_job_stats (&b->host->cg, &b->job, &cs);
  obs->oom_kills = cs.oom_kills;
  obs->pids_max_events = cs.pids_max_events;
  obs->cpu_ns = cs.cpu_ns;
  res->cpu_ms = cs.cpu_ns / 1000000;
  res->memory_peak_bytes = cs.memory_peak_bytes;
  if (fstatfs (b->scratch_fd, &sf) == 0)
    {
      res->disk_bytes = (uint64_t) (sf.f_blocks - sf.f_bfree) * sf.f_bsize;
      /* "Full" leaves room for less than one more 64 KiB write. */
      obs->disk_full = (uint64_t) sf.f_bavail * sf.f_bsize < (64 << 10);
      obs->inodes_full = sf.f_ffree == 0;
    }
}

/* A message to init failed: a closed channel means init gave up
 * building the sandbox, and its report (written before it exited) says
 * why. A job refused before it was sent (too large) leaves init waiting:
 * it is killed either way. Returns -1. */
static int
init_gave_up (struct sbx *b, sq_err *err)
{
  struct sbx_observed obs = { .killed = SBX_KILL_NONE };
  struct reports rp = { .len = 0 };

  sbx_kill_init (b);
  read_reports (b->rep_rd, &rp);
  parse_reports (&rp, &obs);
  if (obs.setup_failed)
    sq_err_set (err, 0, "%s", obs.setup_error);
  return -1;
}

/* Brings b from started to staged: its limits, its network, the output
 * page and the job sent; init makes ready and waits for 'r'. */
static int
stage (struct sbx *b, const struct sbx_exec *ex, sq_err *err)
{
  if (!ex->argv || !ex->argv[0] || !ex->argv[0][0])
    return sq_err_set (err, EINVAL, "no command given");
  if ((!b->started && sbx_start (b, err) < 0) || sbx_job_limits (b, err) < 0
      || (b->net && sbx_net_start (b, b->init_pid, err) < 0))
    return -1;
  b->page = output_page (&b->page_fd, err);
  if (!b->page)
    return -1;
  if (sbx_send_job (b, ex, b->page_fd, err) < 0)
    return init_gave_up (b, err);
  return 0;
}

static int
stage_once (struct sbx *b, const struct sbx_exec *ex)
{
  b->staged = 1;
  if (stage (b, ex, &b->stage_err) < 0)
    b->stage_failed = 1;
  return b->stage_failed ? -1 : 0;
}

int
sbx_stage (struct sbx *b, const struct sbx_exec *ex, sq_err *err)
{
  if (b->ran || b->staged)
    return sq_err_set (err, EINVAL, "the sandbox has its job already");
  if (stage_once (b, ex) < 0)
    {
      *err = b->stage_err;
      return -1;
    }
  return 0;
}

/* From staged (or from started, staging first) to running: 'r' sent at
 * *start_us. 0, or -1 and err. */
static int
launch (struct sbx *b, const struct sbx_exec *ex, uint64_t *start_us, sq_err *err)
{
  if (!b->staged)
    stage_once (b, ex);
  if (b->stage_failed)
    {
      *err = b->stage_err;
      return -1;
    }
  *start_us = sq_now_us ();
  if (sq_send_all (b->sync_wr, "r", 1) < 0)
    {
      sq_err_set (err, errno, "start the program in the sandbox");
      return init_gave_up (b, err);
    }
  close (b->sync_wr), b->sync_wr = -1;
  if (b->prewarmed)
    sbx_warm_resume_by (b->host, b->slot,
                        b->warm_next_now ? 0 : sq_now_ms () + SBX_WARM_HOLD_MS);
  return 0;
}

int
sbx_run (struct sbx *b, const struct sbx_exec *ex, struct sbx_result *res, sq_err *err)
{
  struct sbx_observed obs;
  uint64_t start_us = 0;
  struct reports rp = { .len = 0 };
  int early;

  memset (res, 0, sizeof *res);
  memset (&obs, 0, sizeof obs);
  if (b->ran)
    {
      sq_err_set (err, EINVAL, "a sandbox runs only once");
      sbx_describe_failure (res, err);
      return -1;
    }
  b->ran = 1;
  if (launch (b, ex, &start_us, err) < 0)
    {
      sbx_unstage (b);
      sbx_abandon (b);
      sbx_describe_failure (res, err);
      return -1;
    }
  obs.killed = supervise (b, start_us, &rp, &early, &obs);
  res->wall_ms = (sq_now_us () - start_us + 500) / 1000;
  observe (b, b->page, &rp, &obs, res);
  sbx_unstage (b);
  sbx_decide (&obs, &b->lim, res);
  if (b->net)
    sbx_net_finish (b, res);
  /* It may quote the command, cut at 200 bytes: keep it UTF-8. */
  sq_utf8_sanitize (res->message);
  b->started = 0;
  b->unsettled = 1;
  if (!early && sbx_settle (b, err) < 0)
    {
      sbx_describe_failure (res, err);
      return -1;
    }
  b->out_fd = openat (b->work_fd, "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (res->status == SQ_STATUS_SYSTEM_ERROR)
    {
      sq_err_set (err, 0, "%.400s", res->message);
      return -1;
    }
  return 0;
}

void
sbx_unstage (struct sbx *b)
{
  if (b->page)
    munmap ((void *) b->page, sizeof *b->page);
  b->page = NULL;
  if (b->page_fd >= 0)
    close (b->page_fd);
  b->page_fd = -1;
}

void
sbx_warm_next_now (struct sbx *b)
{
  b->warm_next_now = 1;
}

void
sbx_settle_later (struct sbx *b)
{
  b->settle_later = 1;
}

/* How long init may take to exit once it closed its report pipe. */
#define SETTLE_WAIT_MS 5000

int
sbx_settle (struct sbx *b, sq_err *err)
{
  sq_err lerr = { 0 };

  if (!b->unsettled)
    return 0;
  b->unsettled = 0;
  struct pollfd pf = { b->pidfd, POLLIN, 0 };
  if (poll (&pf, 1, SETTLE_WAIT_MS) == 0)
    {
      sq_warn ("the sandbox's init did not exit within %d ms of the program's end; "
               "killing it",
               SETTLE_WAIT_MS);
      syscall (SYS_pidfd_send_signal, b->pidfd, SIGKILL, NULL, 0);
    }
  waitid (P_PIDFD, b->pidfd, NULL, WEXITED);
  close (b->pidfd), b->pidfd = -1;
  close (b->rep_rd), b->rep_rd = -1;
  if (cg_job_destroy (&b->host->cg, &b->job, err ? err : &lerr) < 0)
    {
      sq_err_log ("%s", err ? err->msg : lerr.msg);
      return -1;
    }
  return 0;
}
