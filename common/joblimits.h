/* The job limits as sandq's programs name them: one enum, one option name,
 * one parser and one range each, shared by sandq-sandbox, sandq submit
 * and sandq-worker (and the job spec, which carries them as numbers).
 * Dependency-free: the sandbox may use it. */
#ifndef SQ_JOBLIMITS_H
#define SQ_JOBLIMITS_H

#include <stdint.h>

#include "err.h"

enum sq_limit
{
  SQ_LIM_MEMORY,     /* bytes */
  SQ_LIM_CPU,        /* ms of CPU time */
  SQ_LIM_WALL,       /* ms */
  SQ_LIM_PIDS,       /* processes and threads */
  SQ_LIM_OUTPUT,     /* bytes of stdout + stderr */
  SQ_LIM_DISK,       /* bytes */
  SQ_LIM_INODES,     /* files and directories */
  SQ_LIM_MILLICORES, /* CPU bandwidth, 1000 = one core */
  SQ_LIM__COUNT
};

/* Command-line names ("memory", ..., "cpus"), in enum order. */
extern const char *const sq_limit_opt_names[SQ_LIM__COUNT];

/* getopt_long entries for every limit option; getopt returns base + the
 * limit. */
/* clang-format off */
#define SQ_LIMIT_LONG_OPTIONS(base)                                     \
  { "memory", required_argument, 0, (base) + SQ_LIM_MEMORY },         \
  { "cpu", required_argument, 0, (base) + SQ_LIM_CPU },               \
  { "wall", required_argument, 0, (base) + SQ_LIM_WALL },             \
  { "pids", required_argument, 0, (base) + SQ_LIM_PIDS },             \
  { "output", required_argument, 0, (base) + SQ_LIM_OUTPUT },         \
  { "disk", required_argument, 0, (base) + SQ_LIM_DISK },             \
  { "inodes", required_argument, 0, (base) + SQ_LIM_INODES },         \
  { "cpus", required_argument, 0, (base) + SQ_LIM_MILLICORES }
/* clang-format on */

/* The limit an option name (without "--") sets, or -1. */
int sq_limit_opt_find (const char *name);

/* Parses an option's value: sizes with K/M/G suffixes, seconds with
 * fractions or s/m/h suffixes, counts, cores ("0.5"). The message names
 * the option and the range. */
int sq_limit_opt_parse (enum sq_limit l, const char *value, uint64_t *out, sq_err *err);

/* The most the inputs may add up to: the disk limit, or the memory limit
 * when it is lower, since files count against it too (tmpfs pages).
 * Inputs over it could never run, and are refused by name rather than by
 * the kernel's OOM killer. */
uint64_t sq_inputs_max_bytes (uint64_t disk_bytes, uint64_t memory_bytes);

/* Inputs that do not fit, as unpacking or copying them found it: err's
 * code is EFBIG (a size cap) or ENOSPC (a full disk), or ENOMEM (the
 * job's memory cgroup refused a page). Names the limit that held: the
 * memory limit when it is the lower one (files count against it) or
 * memory was refused, else the disk limit; the input's fault. Other
 * errors are left as they are. Returns -1. */
int sq_err_inputs_cap (sq_err *err, uint64_t disk_bytes, uint64_t memory_bytes);

/* The same for inputs the kernel stopped at the memory limit, with no
 * error of their own to name (the copying process was OOM-killed). */
int sq_err_inputs_memory (sq_err *err, uint64_t memory_bytes);

#endif
