/* The worker's side of sandq-archiver (see archiver.c): one helper per
 * worker, and per slot the job process that unpacks the next job's input
 * and packs its result. */
#ifndef SANDQ_ARCHIVER_CLIENT_H
#define SANDQ_ARCHIVER_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"
#include "archiver_proto.h"

#define ARC_DEFAULT_TIMEOUT_MS 60000

struct arc_helper
{
  pthread_mutex_t lock; /* guards a restart */
  char path[4096];      /* the sandq-archiver binary */
  int ctl;              /* our end of its control socket */
  unsigned timeout_ms;  /* for each answer; 0: ARC_DEFAULT_TIMEOUT_MS */
  int pidfd;
  unsigned restarts;
};

/* Finds sandq-archiver (beside the worker's own binary, else in
 * SANDQ_LIBEXECDIR) and starts it. */
int arc_helper_start (struct arc_helper *h, sq_err *err);

void arc_helper_stop (struct arc_helper *h);

struct archiver
{
  int pidfd;   /* the job process, or -1 */
  int sock;    /* our end of its socket */
  int used;    /* it was given a job: not to be given another */
  int pending; /* asked for; its pidfd not read yet */
  uint64_t max_result;
  unsigned timeout_ms;
};

void archiver_init (struct archiver *a);

/* Asks for the next job process unless one is waiting (or asked for),
 * without waiting for it. It joins netns_fd (a namespace with no network)
 * while it waits. */
int archiver_prepare (struct archiver *a, struct arc_helper *h, int netns_fd,
                      sq_err *err);

struct arc_unpack_args
{
  int work_fd;
  uid_t uid;
  uint64_t disk_bytes, disk_inodes, memory_bytes;
  uint64_t max_result;
  int join_fd, leave_fd; /* sbx_charge_files */
  const void *input;
  size_t input_len;
  /* Earlier jobs' result archives, unpacked after the input: each its
   * select ("out" or "out/PATH") only, without the "out/". */
  unsigned nchained;
  struct
  {
    const void *archive;
    size_t len;
    char select[ARC_SELECT_MAX];
  } chained[ARC_MAX_CHAINED];
  /* If not NULL: called with during_ctx while the job process unpacks. */
  void (*during) (void *);
  void *during_ctx;
};

/* Gives the job to the job process: in the job's memory cgroup, as uid,
 * it unpacks the input into the work dir. An input it refuses fails with
 * the input's fault (sq_err_input) and a message naming the entry;
 * anything else is sandq's (the caller then asks whether the job's
 * memory ran out). */
int archiver_unpack (struct archiver *a, struct arc_helper *h, int netns_fd,
                     const struct arc_unpack_args *args, sq_err *err);

struct arc_counts
{
  uint64_t out_entries, out_skipped;
  int out_truncated; /* out/ did not fit under the cap and was left out */
};

/* Packs stdout, stderr, out/ (out_fd, or -1) and result.json, given
 * without its closing brace: the job process appends the out/ counts.
 * The archive is mapped at *arch (archiver_free it). Returns 1 (and the
 * counts) if out/ was left out to fit: the caller says so in a whole
 * result.json passed to archiver_finish. */
int archiver_pack (struct archiver *a, int stdout_fd, int stderr_fd, int out_fd,
                   const char *json_head, size_t len, struct arc_counts *counts,
                   void **arch, size_t *alen, sq_err *err);

/* After archiver_pack returned 1: adds this result.json and closes the
 * archive. Returns as archiver_pack. */
int archiver_finish (struct archiver *a, const char *json, size_t len,
                     struct arc_counts *counts, void **arch, size_t *alen, sq_err *err);

void archiver_free (void *arch, size_t alen);

/* Ends the job process of the job that is over (or failed). */
void archiver_done (struct archiver *a);

/* Ends the waiting job process too (the slot stops). */
void archiver_fini (struct archiver *a);

#endif
