/* sandq-archiver's job process, second half: packing the result archive
 * (stdout, stderr, out/, result.json) within the result cap, and without
 * out/ when it does not fit. The first half, unpacking, is in
 * archiver.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/util.h"
#include "archiver_job.h"
#include "archiver_proto.h"

struct pack
{
  uint64_t max;
  const void *obuf, *ebuf;
  size_t olen, elen;
  int out_fd; /* -1: left out, or none */
  struct sq_tree_stats outs;
  struct sq_packer *p;
};

/* stdout, stderr and out/, all but result.json (which carries out/'s
 * counts and comes last). */
static int
pack_start (struct pack *k, sq_err *err)
{
  /* out/ is the job's: what lies too deep is left out, not fatal. */
  struct sq_tree_limits tl = { 1 << 20, k->max, 64, 4095, 1 };

  memset (&k->outs, 0, sizeof k->outs);
  k->p = sq_packer_new (k->max, err);
  if (!k->p)
    return -1;
  if (sq_packer_add_mem (k->p, "stdout", k->obuf, k->olen, err) < 0
      || sq_packer_add_mem (k->p, "stderr", k->ebuf, k->elen, err) < 0
      || (k->out_fd >= 0
          && sq_packer_add_tree (k->p, k->out_fd, "out", &tl, &k->outs, err) < 0))
    {
      sq_packer_free (k->p);
      k->p = NULL;
      return -1;
    }
  return 0;
}

/* Packs; if out/ does not fit under the cap, without it. */
static void
pack_or_truncate (int sock, struct pack *k)
{
  sq_err err = { 0 };
  while (pack_start (k, &err) < 0)
    {
      /* Only a result too large for its cap is worth a second try. */
      if (err.code != EFBIG || k->out_fd < 0)
        arc_fail (sock, ARC_FAILED, err.msg);
      k->out_fd = -1;
    }
}

static void
reply_counts (int sock, char status, const struct pack *k, int truncated)
{
  struct arc_reply r = { .status = status,
                         .out_entries = k->outs.entries,
                         .out_skipped = k->outs.skipped,
                         .out_truncated = (uint32_t) truncated };
  if (arc_send_reply (sock, &r, -1) < 0)
    _exit (1);
}

/* Adds result.json, closes the archive, sends it with the out/ counts and
 * exits; returns only on failure, the packer gone. */
static void
finish (int sock, struct pack *k, const char *json, size_t len, sq_err *err)
{
  struct sq_packer *p = k->p;
  void *arch;
  size_t alen;

  k->p = NULL;
  if (sq_packer_add_mem (p, "result.json", json, len, err) < 0)
    {
      sq_packer_free (p);
      return;
    }
  if (sq_packer_finish (p, &arch, &alen, err) < 0) /* frees p */
    return;
  int mfd = memfd_create ("result", MFD_CLOEXEC);
  if (mfd < 0 || sq_write_all (mfd, arch, alen) < 0)
    {
      sq_err_set (err, errno, "copy the result archive");
      arc_fail (sock, ARC_FAILED, err->msg);
    }
  struct arc_reply r = { .status = ARC_OK,
                         .out_entries = k->outs.entries,
                         .out_skipped = k->outs.skipped,
                         .out_truncated = k->out_fd < 0 };
  arc_send_reply (sock, &r, mfd);
  _exit (0);
}

/* ARC_PACK, and ARC_FINISH after a truncation: stdout, stderr, out/ and
 * result.json into the result archive, within the result cap. */
void
arc_serve_pack (int sock, struct arc_request *rq_in)
{
  struct arc_request rq = *rq_in;
  char buf[sizeof rq + ARC_JSON_MAX + 128];
  int fds[MAX_FDS], nfds;
  ssize_t n;
  sq_err err = { 0 };
  struct pack k = { .max = rq.max_result, .out_fd = -1 };

  reply_counts (sock, ARC_OK, &k, 0);
  /* ARC_PACK: stdout, stderr, out/, and result.json but for its out/
   * counts, which are known here and appended. */
  n = arc_recv_fds (sock, buf, sizeof buf - 128, fds, &nfds);
  if (n >= (ssize_t) sizeof rq)
    memcpy (&rq, buf, sizeof rq);
  if (n <= (ssize_t) sizeof rq || rq.op != ARC_PACK || nfds != (rq.has_out ? 3 : 2))
    _exit (2);
  /* The file-size cap was the disk limit, for unpacking; the archive may
   * be larger (stdout alone may be), up to the result cap. */
  struct rlimit fsz;
  if (getrlimit (RLIMIT_FSIZE, &fsz) == 0 && fsz.rlim_cur < fsz.rlim_max)
    {
      fsz.rlim_cur = fsz.rlim_max;
      setrlimit (RLIMIT_FSIZE, &fsz);
    }
  k.obuf = arc_map_whole (fds[0], &k.olen);
  k.ebuf = arc_map_whole (fds[1], &k.elen);
  /* A map that failed is not an empty stream. The output is capped below
   * the result cap, and the address-space cap leaves room for twice that:
   * a failure here is the host's (memory), not the job's. */
  if ((k.olen && !k.obuf) || (k.elen && !k.ebuf))
    {
      sq_err_set (&err, errno, "map the job's %s",
                  k.olen && !k.obuf ? "stdout" : "stderr");
      arc_fail (sock, ARC_FAILED, err.msg);
    }
  if (rq.has_out)
    {
      struct stat st;
      k.out_fd = fds[2];
      /* The job may have locked its own out/ away from itself; it is
       * over, and its uid is ours. */
      if (fstat (k.out_fd, &st) == 0 && (st.st_mode & 0500) != 0500)
        fchmod (k.out_fd, (st.st_mode & 07777) | 0700);
    }
  int has_out = k.out_fd >= 0;
  pack_or_truncate (sock, &k);
  if (!has_out || k.out_fd >= 0)
    {
      size_t len = (size_t) n - sizeof rq;
      len += (size_t) snprintf (buf + sizeof rq + len, 128,
                                ",\"out_files\":%llu,\"out_skipped\":%llu,"
                                "\"out_truncated\":false}",
                                (unsigned long long) (k.outs.entries - k.outs.skipped),
                                (unsigned long long) k.outs.skipped);
      finish (sock, &k, buf + sizeof rq, len, &err);
      if (err.code != EFBIG || k.out_fd < 0)
        arc_fail (sock, ARC_FAILED, err.msg);
      k.out_fd = -1;
      pack_or_truncate (sock, &k);
    }
  /* out/ is left out to fit: the worker says so in a new result.json. */
  reply_counts (sock, ARC_TRUNCATE, &k, 1);
  for (;;)
    {
      n = arc_recv_fds (sock, buf, sizeof buf, fds, &nfds);
      for (int i = 0; i < nfds; i++)
        close (fds[i]);
      if (n < (ssize_t) sizeof rq || buf[0] != ARC_FINISH)
        _exit (2);
      finish (sock, &k, buf + sizeof rq, (size_t) n - sizeof rq, &err);
      arc_fail (sock, ARC_FAILED, err.msg);
    }
}
