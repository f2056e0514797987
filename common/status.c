#include "status.h"

#include <string.h>

static const char *const names[SQ_STATUS__COUNT] = {
  [SQ_STATUS_OK] = "ok",
  [SQ_STATUS_NONZERO_EXIT] = "nonzero_exit",
  [SQ_STATUS_SIGNALED] = "signaled",
  [SQ_STATUS_TIMEOUT] = "timeout",
  [SQ_STATUS_CPU_LIMIT] = "cpu_limit",
  [SQ_STATUS_MEMORY_LIMIT] = "memory_limit",
  [SQ_STATUS_PIDS_LIMIT] = "pids_limit",
  [SQ_STATUS_OUTPUT_LIMIT] = "output_limit",
  [SQ_STATUS_DISK_LIMIT] = "disk_limit",
  [SQ_STATUS_SYSTEM_ERROR] = "system_error",
  [SQ_STATUS_REJECTED] = "rejected",
  [SQ_STATUS_CANCELLED] = "cancelled",
  [SQ_STATUS_EXPIRED] = "expired",
};

const char *
sq_status_name (enum sq_status s)
{
  if ((unsigned) s >= SQ_STATUS__COUNT)
    return "unknown";
  return names[s];
}

int
sq_status_from_name (const char *name)
{
  for (int i = 0; i < SQ_STATUS__COUNT; i++)
    if (strcmp (names[i], name) == 0)
      return i;
  return -1;
}

int
sq_status_is_limit (enum sq_status s)
{
  switch (s)
    {
    case SQ_STATUS_TIMEOUT:
    case SQ_STATUS_CPU_LIMIT:
    case SQ_STATUS_MEMORY_LIMIT:
    case SQ_STATUS_PIDS_LIMIT:
    case SQ_STATUS_OUTPUT_LIMIT:
    case SQ_STATUS_DISK_LIMIT:
      return 1;
    default:
      return 0;
    }
}
