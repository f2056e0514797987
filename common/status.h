/* The verdicts of a job: one enum, one name table, one place.
 *
 * Statuses up to SQ_STATUS_SYSTEM_ERROR can come out of the sandbox; the
 * rest are decided by the queue (a bad spec, a cancel, an expired TTL).
 */
#ifndef SQ_STATUS_H
#define SQ_STATUS_H

enum sq_status
{
  SQ_STATUS_OK = 0,
  SQ_STATUS_NONZERO_EXIT,
  SQ_STATUS_SIGNALED,
  SQ_STATUS_TIMEOUT,
  SQ_STATUS_CPU_LIMIT,
  SQ_STATUS_MEMORY_LIMIT,
  SQ_STATUS_PIDS_LIMIT,
  SQ_STATUS_OUTPUT_LIMIT,
  SQ_STATUS_DISK_LIMIT,
  SQ_STATUS_SYSTEM_ERROR,
  SQ_STATUS_REJECTED,
  SQ_STATUS_CANCELLED,
  SQ_STATUS_EXPIRED,
  SQ_STATUS__COUNT
};

/* "ok", "nonzero_exit", ...; never NULL for a valid status. */
const char *sq_status_name (enum sq_status s);

/* Returns the status named, or -1. */
int sq_status_from_name (const char *name);

/* True for the statuses that mean the program broke one of its limits. */
int sq_status_is_limit (enum sq_status s);

#endif
