/* Turning what the supervisor observed into one verdict and one sentence.
 * Pure functions, so every branch can be unit-tested without a kernel. */
#ifndef SBX_VERDICT_H
#define SBX_VERDICT_H

#include <stdint.h>

#include "sandbox.h"

enum sbx_kill_reason
{
  SBX_KILL_NONE,
  SBX_KILL_TIMEOUT,
  SBX_KILL_CPU,
  SBX_KILL_OUTPUT,
  SBX_KILL_CANCEL,
  SBX_KILL_SINK,  /* the caller's stdout/stderr file failed */
  SBX_KILL_WATCH, /* the supervisor could not wait on the sandbox */
};

struct sbx_observed
{
  enum sbx_kill_reason killed; /* the supervisor's kill, if it sent one */
  int output_capped;           /* init stopped the job at its output limit */
  int sink_errno;              /* init could not store the output: ENOMEM is the job's
                                * memory (the pages are charged to it), else the caller's */
  int have_status;             /* the sandbox's init reported a wait status */
  int wait_status;
  int exec_failed;      /* the command could not be started */
  char exec_error[256]; /* "the command 'x' was not found in the sandbox" */
  int setup_failed;     /* the sandbox itself could not be built */
  char setup_error[256];
  uint64_t oom_kills;
  uint64_t pids_max_events;
  uint64_t cpu_ns;
  int watch_errno; /* SBX_KILL_WATCH: why the wait failed */
  int disk_full;   /* no space or no inodes left on scratch */
  int inodes_full;
};

/* Fills res->status, exit_code, signal and message: the one place a
 * finished run becomes a verdict. Figures (wall, cpu, memory, bytes) must
 * already be in res. */
void sbx_decide (const struct sbx_observed *o, const struct sbx_limits *lim,
                 struct sbx_result *res);

#endif
