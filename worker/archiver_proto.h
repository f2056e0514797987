/* Messages between sandq-worker and sandq-archiver, its archive helper.
 *
 * All travel on SOCK_SEQPACKET sockets, one struct per message, with
 * descriptors as SCM_RIGHTS. Both ends are built from the same tree, so
 * the structs are sent as they are.
 *
 * The worker's control socket to the helper (fd 3 of sandq-archiver):
 *   ARC_SPAWN, fds [job socket, network namespace]: the helper forks a
 *   job process on the job socket and sends its pidfd there first
 *   (ARC_OK, fds [pidfd]).
 *
 * The job socket, one job process per job, at most in this order:
 *   ARC_UNPACK, fds [work dir, join, leave, input memfd if input_len > 0,
 *   chained memfd if nchained > 0]:
 *     it writes "0" into join (the job's memory cgroup: what it writes is
 *     charged to the job), takes the job's uid, unpacks the input into the
 *     work dir, then each earlier job's result archive (chained_len[i]
 *     bytes each, one after the other in the chained memfd) restricted to
 *     chained_select[i] ("out" or "out/PATH") and without its "out/", and
 *     writes "0" into leave (back to the worker's cgroup) before it
 *     answers.
 *   ARC_PACK, fds [stdout memfd, stderr memfd, out dir (optional)],
 *     followed by result.json's bytes but for its closing brace: it packs
 *     them, appends the out/ counts to result.json, adds it, closes the
 *     archive and answers ARC_OK with the archive as a memfd. If out/ had
 *     to be left out to fit, it answers ARC_TRUNCATE with the counts
 *     instead, and the worker sends ARC_FINISH, followed by a whole
 *     result.json that says so; the answer is then ARC_OK as above.
 * Every answer is a struct arc_reply. The job process exits after the
 * archive is sent, on any failure, or when the worker closes its end.
 */
#ifndef SANDQ_ARCHIVER_PROTO_H
#define SANDQ_ARCHIVER_PROTO_H

#include <stdint.h>

#include "../common/err.h"

enum arc_op
{
  ARC_SPAWN = 'S',
  ARC_UNPACK = 'U',
  ARC_PACK = 'P',
  ARC_FINISH = 'F',
};

enum arc_status
{
  ARC_OK = '0',
  ARC_BAD_INPUT = '1', /* the input was refused: msg names the entry */
  ARC_FAILED = '2',
  ARC_TRUNCATE = 'T', /* out/ did not fit under the cap and was left out */
};

#define ARC_MAX_CHAINED 8  /* SQ_SPEC_MAX_INPUTS */
#define ARC_SELECT_MAX 264 /* "out/" and SQ_INPUT_PATH_MAX */

struct arc_request
{
  char op;
  uint32_t uid;        /* ARC_UNPACK: the job's uid on the host */
  uint64_t disk_bytes; /* ARC_UNPACK: the job's disk caps */
  uint64_t
      memory_bytes; /* ARC_UNPACK: the job's memory limit, which files count against */
  uint64_t disk_inodes; /* ARC_UNPACK */
  uint64_t input_len;   /* ARC_UNPACK: bytes of the input memfd */
  uint64_t max_result;  /* ARC_UNPACK: cap on the result archive */
  uint32_t has_out;     /* ARC_PACK: an out dir fd was sent */
  uint32_t nchained;    /* ARC_UNPACK: earlier jobs' results to unpack */
  uint64_t chained_len[ARC_MAX_CHAINED];
  char chained_select[ARC_MAX_CHAINED][ARC_SELECT_MAX];
};

/* ARC_PACK, ARC_FINISH: result.json follows the request in the same
 * message. */
#define ARC_JSON_MAX 16384

struct arc_reply
{
  char status;
  uint64_t out_entries, out_skipped; /* ARC_OK to a pack, ARC_TRUNCATE */
  uint32_t out_truncated;
  char msg[SQ_ERR_MSG_MAX + 1];
};

#endif
