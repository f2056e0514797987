#define _GNU_SOURCE
#include "verdict.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "../common/util.h"

/* A signal's name without glibc's sigabbrev_np (the CLI is linked with
 * musl, which has none). Indexed by the libc's own constants, so right
 * on any architecture; real-time signals are "?". */
static const char *
signame (int sig)
{
  static const char *const names[] = {
    [SIGHUP] = "HUP",       [SIGINT] = "INT",       [SIGQUIT] = "QUIT",
    [SIGILL] = "ILL",       [SIGTRAP] = "TRAP",     [SIGABRT] = "ABRT",
    [SIGBUS] = "BUS",       [SIGFPE] = "FPE",       [SIGKILL] = "KILL",
    [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV",     [SIGUSR2] = "USR2",
    [SIGPIPE] = "PIPE",     [SIGALRM] = "ALRM",     [SIGTERM] = "TERM",
    [SIGSTKFLT] = "STKFLT", [SIGCHLD] = "CHLD",     [SIGCONT] = "CONT",
    [SIGSTOP] = "STOP",     [SIGTSTP] = "TSTP",     [SIGTTIN] = "TTIN",
    [SIGTTOU] = "TTOU",     [SIGURG] = "URG",       [SIGXCPU] = "XCPU",
    [SIGXFSZ] = "XFSZ",     [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF",
    [SIGWINCH] = "WINCH",   [SIGIO] = "IO",         [SIGPWR] = "PWR",
    [SIGSYS] = "SYS",
  };
  if (sig > 0 && (size_t) sig < sizeof names / sizeof names[0] && names[sig])
    return names[sig];
  return "?";
}

void
sbx_describe (struct sbx_result *r, const struct sbx_limits *lim)
{
  char a[32], b[32];
  char *m = r->message;
  size_t len = sizeof r->message;
  char tail[128] = "";

  if (r->exit_code >= 0)
    snprintf (tail, sizeof tail, "it exited with code %d", r->exit_code);
  else if (r->signal > 0)
    snprintf (tail, sizeof tail, "it was killed by signal %d (SIG%s)", r->signal,
              signame (r->signal));

  switch (r->status)
    {
    case SQ_STATUS_OK:
      snprintf (m, len, "the program finished successfully");
      break;
    case SQ_STATUS_NONZERO_EXIT:
      snprintf (m, len, "the program exited with code %d", r->exit_code);
      break;
    case SQ_STATUS_SIGNALED:
      snprintf (m, len, "the program was killed by signal %d (SIG%s)", r->signal,
                signame (r->signal));
      break;
    case SQ_STATUS_TIMEOUT:
      sq_format_duration (lim->wall_ms, a, sizeof a);
      snprintf (m, len,
                "the program ran longer than its wall-clock limit of "
                "%s and was stopped",
                a);
      break;
    case SQ_STATUS_CPU_LIMIT:
      sq_format_duration (lim->cpu_ms, a, sizeof a);
      snprintf (m, len,
                "the program used more than %s of CPU time and was "
                "stopped",
                a);
      break;
    case SQ_STATUS_MEMORY_LIMIT:
      sq_format_size (lim->memory_bytes, a, sizeof a);
      snprintf (m, len,
                "the program used more than %s of memory and was "
                "stopped",
                a);
      break;
    case SQ_STATUS_PIDS_LIMIT:
      snprintf (m, len,
                "the program tried to run more than %" PRIu64
                " processes and threads at once and was stopped",
                lim->pids);
      break;
    case SQ_STATUS_OUTPUT_LIMIT:
      sq_format_size (lim->output_bytes, a, sizeof a);
      snprintf (m, len,
                "the program wrote more than %s to stdout and stderr "
                "and was stopped",
                a);
      break;
    case SQ_STATUS_DISK_LIMIT:
      sq_format_size (lim->disk_bytes, a, sizeof a);
      snprintf (b, sizeof b, "%" PRIu64, lim->disk_inodes);
      snprintf (m, len,
                "the program filled its disk (%s or %s files in /work "
                "and /tmp)%s%s",
                a, b, tail[0] ? "; " : "", tail);
      break;
    case SQ_STATUS_CANCELLED:
      snprintf (m, len, "the job was cancelled");
      break;
    default:
      if (!m[0])
        snprintf (m, len, "sandq failed to run the program");
      break;
    }
}

/* A run the supervisor or init stopped (why): the first kernel cap it
 * had hit (soft), if any, else the kill itself. */
static void
decide_killed (enum sbx_kill_reason why, enum sq_status soft,
               const struct sbx_limits *lim, struct sbx_result *res)
{
  static const char *const then[] = {
    [SBX_KILL_OUTPUT] = "its output limit",
    [SBX_KILL_CPU] = "its CPU time limit",
    [SBX_KILL_TIMEOUT] = "its wall time limit",
  };

  res->status = soft != SQ_STATUS_OK     ? soft
                : why == SBX_KILL_OUTPUT ? SQ_STATUS_OUTPUT_LIMIT
                : why == SBX_KILL_CPU    ? SQ_STATUS_CPU_LIMIT
                                         : SQ_STATUS_TIMEOUT;
  sbx_describe (res, lim);
  if (soft == SQ_STATUS_OK)
    return;
  size_t ml = strlen (res->message);
  /* "... and was stopped" becomes "..., then was stopped at ...". */
  if (ml > 16 && strcmp (res->message + ml - 16, " and was stopped") == 0)
    ml -= 16;
  snprintf (res->message + ml, sizeof res->message - ml, ", then was stopped at %s",
            then[why]);
}

/* A program that ended by itself without success: which cap, if any,
 * explains how. */
static enum sq_status
decide_ended (const struct sbx_observed *o, const struct sbx_limits *lim,
              const struct sbx_result *res)
{
  int signaled = res->signal > 0;

  if (signaled
      && (res->signal == SIGXCPU
          || (res->signal == SIGKILL && o->cpu_ns / 1000000 >= lim->cpu_ms)))
    return SQ_STATUS_CPU_LIMIT;
  if ((signaled && res->signal == SIGXFSZ) || o->disk_full || o->inodes_full)
    return SQ_STATUS_DISK_LIMIT;
  if (o->pids_max_events)
    return SQ_STATUS_PIDS_LIMIT;
  return signaled ? SQ_STATUS_SIGNALED : SQ_STATUS_NONZERO_EXIT;
}

/* Captured output is charged to the job: say so when it may be what
 * filled its memory. */
static void
blame_output (const struct sbx_observed *o, const struct sbx_limits *lim,
              struct sbx_result *res)
{
  uint64_t output = res->stdout_bytes + res->stderr_bytes;
  char a[32];

  if (res->status != SQ_STATUS_MEMORY_LIMIT
      || (o->sink_errno != ENOMEM && output < lim->memory_bytes / 4))
    return;
  size_t ml = strlen (res->message);
  sq_format_size (output, a, sizeof a);
  snprintf (res->message + ml, sizeof res->message - ml,
            "; its captured output (%s so far) counts against that limit", a);
}

void
sbx_decide (const struct sbx_observed *o, const struct sbx_limits *lim,
            struct sbx_result *res)
{
  int st = o->wait_status;
  int exited = o->have_status && WIFEXITED (st);
  enum sbx_kill_reason killed = o->killed;

  res->exit_code = exited ? WEXITSTATUS (st) : -1;
  res->signal = o->have_status && WIFSIGNALED (st) ? WTERMSIG (st) : 0;
  res->message[0] = '\0';
  /* init ended the job for its output unless the supervisor had killed
   * it first. */
  if (killed == SBX_KILL_NONE && o->output_capped)
    killed = SBX_KILL_OUTPUT;
  else if (killed == SBX_KILL_NONE && o->sink_errno && o->sink_errno != ENOMEM)
    killed = SBX_KILL_SINK;

  /* The first limit the job hit, whatever the timing. Two kinds: the
   * supervisor's kills (CPU, wall, output) end the job, so at most one
   * happens, and last; the kernel's caps (memory: a process OOM-killed;
   * processes: a fork refused; disk: a write refused) let it go on. So a
   * kernel cap seen at all came before any kill: a fork bomb that then
   * spins is pids_limit whether the CPU cap or the wall clock stopped it.
   * Between kernel caps, a fixed order: memory, processes, disk. */
  int memory = o->oom_kills || o->sink_errno == ENOMEM;
  enum sq_status soft = memory                           ? SQ_STATUS_MEMORY_LIMIT
                        : o->pids_max_events             ? SQ_STATUS_PIDS_LIMIT
                        : o->disk_full || o->inodes_full ? SQ_STATUS_DISK_LIMIT
                                                         : SQ_STATUS_OK;
  switch (killed)
    {
    case SBX_KILL_CANCEL:
      res->status = SQ_STATUS_CANCELLED;
      break;
    case SBX_KILL_SINK:
      res->status = SQ_STATUS_SYSTEM_ERROR;
      snprintf (res->message, sizeof res->message,
                "sandq could not store the program's output: %s",
                strerror (o->sink_errno ? o->sink_errno : EIO));
      return;
    case SBX_KILL_WATCH:
      res->status = SQ_STATUS_SYSTEM_ERROR;
      snprintf (res->message, sizeof res->message,
                "sandq could not watch the sandbox and stopped the program: %s",
                strerror (o->watch_errno ? o->watch_errno : EIO));
      return;
    case SBX_KILL_OUTPUT:
    case SBX_KILL_CPU:
    case SBX_KILL_TIMEOUT:
      decide_killed (killed, soft, lim, res);
      return;
    case SBX_KILL_NONE:
      if (o->setup_failed)
        {
          res->status = SQ_STATUS_SYSTEM_ERROR;
          snprintf (res->message, sizeof res->message,
                    "sandq could not set up the sandbox: %s", o->setup_error);
          return;
        }
      if (o->exec_failed)
        {
          res->status = SQ_STATUS_NONZERO_EXIT;
          res->exit_code = 127;
          snprintf (res->message, sizeof res->message, "%s", o->exec_error);
          return;
        }
      if (!o->have_status && !memory)
        {
          /* The sandbox's init died without reporting: only a kill from
           * outside does that, and the supervisor did not send one. */
          res->status = SQ_STATUS_SYSTEM_ERROR;
          snprintf (res->message, sizeof res->message,
                    "the sandbox's init process ended without a report");
          return;
        }
      res->status = exited && res->exit_code == 0 ? SQ_STATUS_OK
                    : memory                      ? SQ_STATUS_MEMORY_LIMIT
                                                  : decide_ended (o, lim, res);
      break;
    }
  sbx_describe (res, lim);
  blame_output (o, lim, res);
}

void
sbx_describe_failure (struct sbx_result *res, const sq_err *err)
{
  res->status = SQ_STATUS_SYSTEM_ERROR;
  res->exit_code = -1;
  snprintf (res->message, sizeof res->message, "sandq failed to run the program: %.400s",
            err ? err->msg : "unknown error");
}
