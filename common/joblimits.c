#include "joblimits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const sq_limit_opt_names[SQ_LIM__COUNT] = {
  [SQ_LIM_MEMORY] = "memory", [SQ_LIM_CPU] = "cpu",         [SQ_LIM_WALL] = "wall",
  [SQ_LIM_PIDS] = "pids",     [SQ_LIM_OUTPUT] = "output",   [SQ_LIM_DISK] = "disk",
  [SQ_LIM_INODES] = "inodes", [SQ_LIM_MILLICORES] = "cpus",
};

int
sq_limit_opt_find (const char *name)
{
  for (int i = 0; i < SQ_LIM__COUNT; i++)
    if (strcmp (name, sq_limit_opt_names[i]) == 0)
      return i;
  return -1;
}

int
sq_limit_opt_parse (enum sq_limit l, const char *value, uint64_t *out, sq_err *err)
{
  char name[16];

  snprintf (name, sizeof name, "--%s", sq_limit_opt_names[l]);
  switch (l)
    {
    case SQ_LIM_MEMORY:
    case SQ_LIM_OUTPUT:
    case SQ_LIM_DISK:
      return sq_parse_size (value, name, out, err);
    case SQ_LIM_CPU:
    case SQ_LIM_WALL:
      return sq_parse_duration_ms (value, name, out, err);
    case SQ_LIM_PIDS:
      return sq_parse_uint (value, name, 1, 65536, out, err);
    case SQ_LIM_INODES:
      return sq_parse_uint (value, name, 16, 1 << 24, out, err);
    case SQ_LIM_MILLICORES:
      {
        char *end;
        double cores = strtod (value, &end);
        if (end == value || *end || cores < 0.01 || cores > 1024)
          return sq_err_set (
              err, 0, "--cpus '%s': not a number of cores; use 0.01 to 1024", value);
        *out = (uint64_t) (cores * 1000 + 0.5);
        return 0;
      }
    case SQ_LIM__COUNT:
      break;
    }
  return sq_err_set (err, 0, "no such limit");
}

#define INPUTS_MEMORY                                                                    \
  "the inputs do not fit in the memory limit of %s (files in /work count against it)"

uint64_t
sq_inputs_max_bytes (uint64_t disk_bytes, uint64_t memory_bytes)
{
  return disk_bytes < memory_bytes ? disk_bytes : memory_bytes;
}

int
sq_err_inputs_cap (sq_err *err, uint64_t disk_bytes, uint64_t memory_bytes)
{
  int cap = err->code == EFBIG || err->code == ENOSPC;
  char size[32];

  if (err->code == ENOMEM || (cap && memory_bytes < disk_bytes))
    {
      sq_format_size (memory_bytes, size, sizeof size);
      sq_err_wrap (err, INPUTS_MEMORY, size);
    }
  else if (cap)
    sq_err_wrap (err, "the inputs do not fit in the disk limit");
  else
    return -1;
  return sq_err_input (err);
}

int
sq_err_inputs_memory (sq_err *err, uint64_t memory_bytes)
{
  char size[32];

  sq_format_size (memory_bytes, size, sizeof size);
  sq_err_set (err, 0, INPUTS_MEMORY, size);
  if (err)
    err->code = ENOMEM;
  return sq_err_input (err);
}
