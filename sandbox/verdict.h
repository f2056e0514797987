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
  SBX_KILL_SINK, /* the caller's stdout/stderr file failed */
};

struct sbx_observed
{
  enum sbx_kill_reason killed;
  int have_status; /* the sandbox's init reported a wait status */
  int wait_status;
  int exec_failed;      /* the command could not be started */
  char exec_error[256]; /* "the command 'x' was not found in the sandbox" */
  int setup_failed;     /* the sandbox itself could not be built */
  char setup_error[256];
  uint64_t oom_kills;
  uint64_t pids_max_events;
  uint64_t cpu_ns;
  int output_no_memory; /* init could not store output: the job's memory was full */
  int disk_full;        /* no space or no inodes left on scratch */
  int inodes_full;
};

/* Fills res->status, exit_code, signal and message. Figures (wall, cpu,
 * memory, bytes) must already be in res. */
void sbx_decide (const struct sbx_observed *o, const struct sbx_limits *lim,
                 struct sbx_result *res);

#endif
