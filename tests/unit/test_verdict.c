/* sandbox/verdict: every branch of the decision, without a kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>

#include "../../sandbox/verdict.h"

static struct sbx_limits lim;

static int
setup (void **state)
{
  (void) state;
  sbx_limits_default (&lim);
  lim.memory_bytes = 256ULL << 20;
  lim.wall_ms = 2000;
  lim.cpu_ms = 1000;
  return 0;
}

static struct sbx_result
decide (struct sbx_observed o)
{
  struct sbx_result r;
  memset (&r, 0, sizeof r);
  sbx_decide (&o, &lim, &r);
  return r;
}

#define EXITED(c) ((c) << 8)

static void
ok_and_nonzero (void **state)
{
  (void) state;
  struct sbx_result r
      = decide ((struct sbx_observed){ .have_status = 1, .wait_status = 0 });
  assert_int_equal (r.status, SQ_STATUS_OK);
  assert_int_equal (r.exit_code, 0);
  r = decide ((struct sbx_observed){ .have_status = 1, .wait_status = EXITED (3) });
  assert_int_equal (r.status, SQ_STATUS_NONZERO_EXIT);
  assert_int_equal (r.exit_code, 3);
  assert_string_equal (r.message, "the program exited with code 3");
}

static void
memory (void **state)
{
  (void) state;
  struct sbx_result r = decide (
      (struct sbx_observed){ .have_status = 1, .wait_status = SIGKILL, .oom_kills = 1 });
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
  assert_string_equal (r.message, "the program used more than 256 MiB of memory "
                                  "and was stopped");
  /* A shell reporting its OOM-killed child as 137 is still memory. */
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = EXITED (137), .oom_kills = 2 });
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
  /* A main that recovers and exits 0 is ok. */
  r = decide (
      (struct sbx_observed){ .have_status = 1, .wait_status = 0, .oom_kills = 1 });
  assert_int_equal (r.status, SQ_STATUS_OK);
}

/* A limit of the kernel's (memory, processes, disk) lets the job go on; a
 * kill of the supervisor's (CPU, wall, output) ends it. So a kernel limit
 * seen at all was hit first, and is the verdict whichever kill followed:
 * a fork bomb that then spins gets one answer, not three. */
static void
first_limit_wins (void **state)
{
  (void) state;
  static const enum sbx_kill_reason kills[]
      = { SBX_KILL_CPU, SBX_KILL_TIMEOUT, SBX_KILL_OUTPUT };
  for (size_t i = 0; i < sizeof kills / sizeof kills[0]; i++)
    {
      struct sbx_result r
          = decide ((struct sbx_observed){ .killed = kills[i], .pids_max_events = 7 });
      assert_int_equal (r.status, SQ_STATUS_PIDS_LIMIT);
      assert_non_null (strstr (r.message, ", then was stopped at its "));
      r = decide ((struct sbx_observed){ .killed = kills[i], .oom_kills = 1 });
      assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
      r = decide ((struct sbx_observed){ .killed = kills[i], .disk_full = 1 });
      assert_int_equal (r.status, SQ_STATUS_DISK_LIMIT);
      /* Two kernel limits: a fixed order, memory first. */
      r = decide ((struct sbx_observed){
          .killed = kills[i], .oom_kills = 2, .pids_max_events = 1, .disk_full = 1 });
      assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
    }
  struct sbx_result r
      = decide ((struct sbx_observed){ .killed = SBX_KILL_CPU, .pids_max_events = 7 });
  assert_string_equal (r.message,
                       "the program tried to run more than 64 processes and "
                       "threads at once, then was stopped at its CPU time limit");
}

/* Captured output is charged to the job: a sink that failed for want of
 * the job's memory is memory_limit, and so is any OOM with a quarter of
 * the limit in output, the message saying how much of it was output. */
static void
output_counts_as_memory (void **state)
{
  (void) state;
  struct sbx_observed o = { .sink_errno = ENOMEM };
  struct sbx_result r;
  memset (&r, 0, sizeof r);
  r.stdout_bytes = 10 << 20;
  sbx_decide (&o, &lim, &r);
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
  assert_string_equal (r.message,
                       "the program used more than 256 MiB of memory and was stopped; "
                       "its captured output (10 MiB so far) counts against that limit");
  o = (struct sbx_observed){ .have_status = 1, .wait_status = SIGKILL, .oom_kills = 1 };
  memset (&r, 0, sizeof r);
  r.stdout_bytes = 100 << 20;
  sbx_decide (&o, &lim, &r);
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
  assert_non_null (strstr (r.message, "captured output (100 MiB so far)"));
  /* Little output: the plain message. */
  memset (&r, 0, sizeof r);
  r.stdout_bytes = 1 << 20;
  sbx_decide (&o, &lim, &r);
  assert_null (strstr (r.message, "captured output"));
  /* A kill that came after is still named. */
  o = (struct sbx_observed){ .killed = SBX_KILL_TIMEOUT, .sink_errno = ENOMEM };
  memset (&r, 0, sizeof r);
  sbx_decide (&o, &lim, &r);
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
}

static void
supervisor_kills (void **state)
{
  (void) state;
  struct sbx_result r = decide ((struct sbx_observed){ .killed = SBX_KILL_TIMEOUT });
  assert_int_equal (r.status, SQ_STATUS_TIMEOUT);
  assert_string_equal (r.message, "the program ran longer than its wall-clock "
                                  "limit of 2 s and was stopped");
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_TIMEOUT, .pids_max_events = 5 });
  assert_int_equal (r.status, SQ_STATUS_PIDS_LIMIT);
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_CPU });
  assert_int_equal (r.status, SQ_STATUS_CPU_LIMIT);
  assert_non_null (strstr (r.message, "1 s of CPU time"));
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_OUTPUT });
  assert_int_equal (r.status, SQ_STATUS_OUTPUT_LIMIT);
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_CANCEL, .pids_max_events = 3 });
  assert_int_equal (r.status, SQ_STATUS_CANCELLED);
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_CANCEL });
  assert_int_equal (r.status, SQ_STATUS_CANCELLED);
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_SINK });
  assert_int_equal (r.status, SQ_STATUS_SYSTEM_ERROR);
  /* The supervisor's own wait failed: sandq's fault, named as such, not
   * as the output's. */
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_WATCH, .watch_errno = ENOMEM });
  assert_int_equal (r.status, SQ_STATUS_SYSTEM_ERROR);
  assert_string_equal (r.message, "sandq could not watch the sandbox and stopped the "
                                  "program: Cannot allocate memory");
  /* What init saw of the output: it stopped the job at its cap, or could
   * not store it (the caller's disk; the job's memory is the job's). */
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = SIGKILL, .output_capped = 1 });
  assert_int_equal (r.status, SQ_STATUS_OUTPUT_LIMIT);
  r = decide ((struct sbx_observed){ .killed = SBX_KILL_TIMEOUT, .output_capped = 1 });
  assert_int_equal (r.status, SQ_STATUS_TIMEOUT);
  r = decide ((struct sbx_observed){ .have_status = 1, .sink_errno = ENOSPC });
  assert_int_equal (r.status, SQ_STATUS_SYSTEM_ERROR);
  assert_string_equal (r.message, "sandq could not store the program's output: "
                                  "No space left on device");
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = SIGKILL, .sink_errno = ENOMEM });
  assert_int_equal (r.status, SQ_STATUS_MEMORY_LIMIT);
}

static void
signals_and_rlimits (void **state)
{
  (void) state;
  struct sbx_result r
      = decide ((struct sbx_observed){ .have_status = 1, .wait_status = SIGSEGV });
  assert_int_equal (r.status, SQ_STATUS_SIGNALED);
  assert_int_equal (r.signal, SIGSEGV);
  assert_int_equal (r.exit_code, -1);
  assert_non_null (strstr (r.message, "SIGSEGV"));
  /* Names come from sandq's own table (musl has no sigabbrev_np). */
  r = decide ((struct sbx_observed){ .have_status = 1, .wait_status = SIGTERM });
  assert_string_equal (r.message, "the program was killed by signal 15 (SIGTERM)");
  r = decide ((struct sbx_observed){ .have_status = 1, .wait_status = SIGRTMIN + 1 });
  assert_non_null (strstr (r.message, "(SIG?)"));
  r = decide ((struct sbx_observed){ .have_status = 1, .wait_status = SIGXCPU });
  assert_int_equal (r.status, SQ_STATUS_CPU_LIMIT);
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = SIGKILL, .cpu_ns = 1000000000ULL });
  assert_int_equal (r.status, SQ_STATUS_CPU_LIMIT);
  r = decide ((struct sbx_observed){ .have_status = 1, .wait_status = SIGXFSZ });
  assert_int_equal (r.status, SQ_STATUS_DISK_LIMIT);
}

static void
disk_and_pids (void **state)
{
  (void) state;
  struct sbx_result r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = EXITED (1), .disk_full = 1 });
  assert_int_equal (r.status, SQ_STATUS_DISK_LIMIT);
  assert_non_null (strstr (r.message, "exited with code 1"));
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = EXITED (1), .inodes_full = 1 });
  assert_int_equal (r.status, SQ_STATUS_DISK_LIMIT);
  r = decide ((struct sbx_observed){
      .have_status = 1, .wait_status = EXITED (1), .pids_max_events = 1 });
  assert_int_equal (r.status, SQ_STATUS_PIDS_LIMIT);
}

static void
sandbox_faults (void **state)
{
  (void) state;
  struct sbx_result r = decide (
      (struct sbx_observed){ .setup_failed = 1, .setup_error = "mount x: EPERM" });
  assert_int_equal (r.status, SQ_STATUS_SYSTEM_ERROR);
  assert_non_null (strstr (r.message, "mount x: EPERM"));
  r = decide ((struct sbx_observed){ .have_status = 0 });
  assert_int_equal (r.status, SQ_STATUS_SYSTEM_ERROR);
  r = decide ((struct sbx_observed){ .exec_failed = 1,
                                     .have_status = 1,
                                     .wait_status = EXITED (127),
                                     .exec_error = "the command 'x' was not found" });
  assert_int_equal (r.status, SQ_STATUS_NONZERO_EXIT);
  assert_int_equal (r.exit_code, 127);
  assert_string_equal (r.message, "the command 'x' was not found");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup (ok_and_nonzero, setup),
    cmocka_unit_test_setup (memory, setup),
    cmocka_unit_test_setup (supervisor_kills, setup),
    cmocka_unit_test_setup (first_limit_wins, setup),
    cmocka_unit_test_setup (output_counts_as_memory, setup),
    cmocka_unit_test_setup (signals_and_rlimits, setup),
    cmocka_unit_test_setup (disk_and_pids, setup),
    cmocka_unit_test_setup (sandbox_faults, setup),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
