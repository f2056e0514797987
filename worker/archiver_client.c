/* The worker's side of sandq-archiver: starting (and restarting) the
 * helper, and talking to one job process per job.
 *
 * A slot has its next job process made before it claims a job (off the
 * job's path), gives it the job's work dir and input, later its stdout,
 * stderr and out/, and gets the result archive back as a memfd. Every
 * answer is awaited with a bound (--archive-timeout); a job process that
 * neither answers nor dies is killed and the job fails as a system error,
 * to be retried.
 *
 * Nothing a job process says is trusted further than the job's own data:
 * it parsed hostile input. Answers are checked for size, the archive for
 * type and its cap.
 */
#define _GNU_SOURCE
#include "archiver_client.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/util.h"
#include "archiver_proto.h"
#include "../common/fdpass.h"
#include "paths.h" /* SANDQ_LIBEXECDIR, made by the Makefile */

extern char **environ;

/* A failure of the helper or a job process: err->code EIO, and the
 * message as it is, without errno's text. */
static int __attribute__ ((format (printf, 2, 3)))
arc_err (sq_err *err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  err->code = EIO;
  return -1;
}

/* Waits (bounded) for one struct arc_reply and at most one descriptor. */
static int
recv_reply (int sock, unsigned timeout_ms, struct arc_reply *r, int *fd, sq_err *err)
{
  struct pollfd pf = { sock, POLLIN, 0 };
  int ready, got = -1, nfds;
  ssize_t n;

  if (fd)
    *fd = -1;
  while ((ready = poll (&pf, 1, (int) timeout_ms)) < 0 && errno == EINTR)
    ;
  if (ready == 0)
    return sq_err_set (err, ETIMEDOUT, "the archive helper did not answer within %.1f s",
                       timeout_ms / 1000.0);
  n = fdpass_recv (sock, r, sizeof *r, &got, fd ? 1 : 0, &nfds, MSG_DONTWAIT);
  if (n != (ssize_t) sizeof *r)
    {
      if (nfds)
        close (got);
      return arc_err (err, "the archive helper died");
    }
  if (fd && nfds)
    *fd = got;
  r->msg[sizeof r->msg - 1] = '\0';
  return 0;
}

static int
spawn (struct arc_helper *h, sq_err *err)
{
  int sv[2], child = -1, rc;
  pid_t pid;
  char pidarg[32];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, def;
  /* A clean environment: the helper's job processes parse hostile input
   * and must hold nothing of the worker's (a Redis URL, a password). */
  char *envp[5];
  int ne = 0;
  /* Every symbol bound once, in the helper: not again, page by page, in
   * each job process it forks. */
  envp[ne++] = "LD_BIND_NOW=1";
  for (char **e = environ; *e && ne < 4; e++)
    if (strncmp (*e, "ASAN_OPTIONS=", 13) == 0 || strncmp (*e, "UBSAN_OPTIONS=", 14) == 0
        || strncmp (*e, "LSAN_OPTIONS=", 13) == 0)
      envp[ne++] = *e;
  envp[ne] = NULL;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return sq_err_set (err, errno, "socketpair for the archive helper");
  /* Above 3, so that the dup2 to 3 below always clears close-on-exec. */
  child = fcntl (sv[1], F_DUPFD_CLOEXEC, 10);
  close (sv[1]);
  if (child < 0)
    {
      close (sv[0]);
      return sq_err_set (err, errno, "dup the archive helper's socket");
    }
  snprintf (pidarg, sizeof pidarg, "%d", (int) getpid ());
  char *argv[] = { "sandq-archiver", pidarg, NULL };
  sigemptyset (&none);
  sigemptyset (&def);
  sigaddset (&def, SIGPIPE);
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, child, 3);
  posix_spawnattr_init (&at);
  posix_spawnattr_setsigmask (&at, &none);
  posix_spawnattr_setsigdefault (&at, &def);
  /* Its own process group: a terminal's ^C is for the worker, which
   * drains, and the helper must still pack the results of the jobs that
   * finish meanwhile. */
  posix_spawnattr_setpgroup (&at, 0);
  posix_spawnattr_setflags (&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                     | POSIX_SPAWN_SETPGROUP);
  rc = posix_spawn (&pid, h->path, &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&at);
  close (child);
  if (rc != 0)
    {
      close (sv[0]);
      return sq_err_set (err, rc, "start %s", h->path);
    }
  h->pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (h->pidfd < 0)
    {
      int e = errno;
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      close (sv[0]);
      return sq_err_set (err, e, "pidfd_open the archive helper");
    }
  h->ctl = sv[0];
  return 0;
}

static void
stop (struct arc_helper *h)
{
  if (h->ctl >= 0)
    close (h->ctl);
  h->ctl = -1;
  if (h->pidfd >= 0)
    {
      syscall (SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
      while (waitid (P_PIDFD, h->pidfd, NULL, WEXITED) < 0 && errno == EINTR)
        ;
      close (h->pidfd);
    }
  h->pidfd = -1;
}

int
arc_helper_start (struct arc_helper *h, sq_err *err)
{
  char self[4096];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  pthread_mutex_init (&h->lock, NULL);
  h->ctl = h->pidfd = -1;
  h->restarts = 0;
  if (n > 0)
    {
      self[n] = '\0';
      snprintf (h->path, sizeof h->path, "%s/sandq-archiver", dirname (self));
    }
  if (n <= 0 || access (h->path, X_OK) < 0)
    snprintf (h->path, sizeof h->path, "%s/sandq-archiver", SANDQ_LIBEXECDIR);
  if (access (h->path, X_OK) < 0)
    return sq_err_set (err, errno, "the archive helper %s", h->path);
  return spawn (h, err);
}

void
arc_helper_stop (struct arc_helper *h)
{
  stop (h);
  pthread_mutex_destroy (&h->lock);
}

/* Restarts the helper if it is dead (another slot may have done so). */
static int
restart_if_dead (struct arc_helper *h, sq_err *err)
{
  int rc = 0;
  pthread_mutex_lock (&h->lock);
  struct pollfd pf = { h->pidfd, POLLIN, 0 };
  if (h->pidfd < 0 || poll (&pf, 1, 0) != 0)
    {
      stop (h);
      h->restarts++;
      sq_warn ("the archive helper died; starting another (%u so far)", h->restarts);
      rc = spawn (h, err);
    }
  pthread_mutex_unlock (&h->lock);
  return rc;
}

/* The job process is done with (used, dead or not wanted). */
static void
retire (struct archiver *a)
{
  if (a->pidfd >= 0)
    {
      syscall (SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
      close (a->pidfd);
    }
  if (a->sock >= 0)
    close (a->sock);
  a->pidfd = a->sock = -1;
  a->used = a->pending = 0;
}

void
archiver_init (struct archiver *a)
{
  a->pidfd = a->sock = -1;
  a->used = a->pending = 0;
}

/* Asks the helper for a job process, without waiting for it. */
static int
request (struct archiver *a, struct arc_helper *h, int netns_fd, sq_err *err)
{
  struct arc_request rq = { .op = ARC_SPAWN };
  int sv[2];

  if (netns_fd < 0)
    return sq_err_set (err, 0, "the slot has no network namespace for its job process");
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return sq_err_set (err, errno, "socketpair for a job process");
  pthread_mutex_lock (&h->lock);
  int rc = h->ctl < 0
               ? -1
               : fdpass_send (h->ctl, &rq, sizeof rq, (int[]){ sv[1], netns_fd }, 2);
  pthread_mutex_unlock (&h->lock);
  close (sv[1]);
  if (rc < 0)
    {
      close (sv[0]);
      return sq_err_set (err, EPIPE, "the archive helper is gone");
    }
  a->sock = sv[0];
  a->pending = 1;
  return 0;
}

/* The helper's answer on the job's socket: the job process's pidfd. If
 * the helper died meanwhile, the socket's other end went with it. */
static int
collect (struct archiver *a, sq_err *err)
{
  struct arc_reply r;
  int pidfd;

  if (recv_reply (a->sock, a->timeout_ms, &r, &pidfd, err) < 0)
    return -1;
  a->pending = 0;
  if (r.status != ARC_OK || pidfd < 0)
    {
      if (pidfd >= 0)
        close (pidfd);
      return arc_err (err, "the archive helper: %s", r.msg);
    }
  a->pidfd = pidfd;
  return 0;
}

int
archiver_prepare (struct archiver *a, struct arc_helper *h, int netns_fd, sq_err *err)
{
  if (a->sock >= 0 && !a->used)
    {
      /* Asked for, or waiting; unless it died meanwhile (then another). */
      struct pollfd pf = { a->pidfd, POLLIN, 0 };
      if (a->pending || poll (&pf, 1, 0) == 0)
        return 0;
    }
  retire (a);
  a->timeout_ms = h->timeout_ms ? h->timeout_ms : ARC_DEFAULT_TIMEOUT_MS;
  if (request (a, h, netns_fd, err) == 0)
    return 0;
  return restart_if_dead (h, err) < 0 ? -1 : request (a, h, netns_fd, err);
}

/* A live job process, ready for a job: the one asked for if it came and
 * lives, else another. */
static int
ready (struct archiver *a, struct arc_helper *h, int netns_fd, sq_err *err)
{
  for (int attempt = 0;; attempt++)
    {
      sq_err_clear (err);
      if (archiver_prepare (a, h, netns_fd, err) == 0
          && (!a->pending || collect (a, err) == 0))
        {
          struct pollfd pf = { a->pidfd, POLLIN, 0 };
          if (poll (&pf, 1, 0) == 0)
            return 0;
          arc_err (err, "the job process died while it waited");
        }
      retire (a);
      if (attempt == 2 || restart_if_dead (h, err) < 0)
        return -1;
    }
}

/* One request and its answer, with during(ctx) called in between if
 * given. The job process is retired on any failure. */
static int
call (struct archiver *a, const void *req, size_t len, const int *fds, int nfds,
      void (*during) (void *), void *ctx, struct arc_reply *r, int *rfd, sq_err *err)
{
  if (fdpass_send (a->sock, req, len, fds, nfds) < 0)
    {
      retire (a);
      return arc_err (err, "the archive helper died");
    }
  if (during)
    during (ctx);
  if (recv_reply (a->sock, a->timeout_ms, r, rfd, err) < 0)
    {
      retire (a);
      return -1;
    }
  return 0;
}

int
archiver_unpack (struct archiver *a, struct arc_helper *h, int netns_fd,
                 const struct arc_unpack_args *args, sq_err *err)
{
  struct arc_request rq = {
    .op = ARC_UNPACK,
    .uid = (uint32_t) args->uid,
    .disk_bytes = args->disk_bytes,
    .memory_bytes = args->memory_bytes,
    .disk_inodes = args->disk_inodes,
    .input_len = args->input_len,
    .max_result = args->max_result,
  };
  struct arc_reply r;
  cleanup_close int mfd = -1, cfd = -1;
  int fds[5] = { args->work_fd, args->join_fd, args->leave_fd }, nfds = 3;

  if (ready (a, h, netns_fd, err) < 0)
    return -1;
  a->used = 1;
  a->max_result = args->max_result;
  if (args->input_len)
    {
      mfd = memfd_create ("input", MFD_CLOEXEC);
      if (mfd < 0 || sq_write_all (mfd, args->input, args->input_len) < 0)
        return sq_err_set (err, errno, "copy the input for the archive helper");
      fds[nfds++] = mfd;
    }
  if (args->nchained)
    {
      cfd = memfd_create ("chained", MFD_CLOEXEC);
      if (cfd < 0)
        return sq_err_set (err, errno, "copy the earlier jobs' results");
      rq.nchained = args->nchained;
      for (unsigned i = 0; i < args->nchained && i < ARC_MAX_CHAINED; i++)
        {
          if (sq_write_all (cfd, args->chained[i].archive, args->chained[i].len) < 0)
            return sq_err_set (err, errno, "copy the earlier jobs' results");
          rq.chained_len[i] = args->chained[i].len;
          memcpy (rq.chained_select[i], args->chained[i].select, ARC_SELECT_MAX);
        }
      fds[nfds++] = cfd;
    }
  if (call (a, &rq, sizeof rq, fds, nfds, args->during, args->during_ctx, &r, NULL, err)
      < 0)
    return -1;
  if (r.status == ARC_OK)
    return 0;
  retire (a);
  if (r.status == ARC_BAD_INPUT)
    {
      sq_err_set (err, 0, "input: %s", r.msg);
      return sq_err_input (err);
    }
  return arc_err (err, "unpacking failed: %s", r.msg);
}

static void
take_counts (const struct arc_reply *r, struct arc_counts *c)
{
  c->out_entries = r->out_entries;
  c->out_skipped = r->out_skipped <= r->out_entries ? r->out_skipped : r->out_entries;
  c->out_truncated = r->out_truncated != 0;
}

/* An ARC_OK answer's archive: a memfd within the cap, mapped. */
static int
take_archive (struct archiver *a, int fd, void **arch, size_t *alen, sq_err *err)
{
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size <= 0
      || (uint64_t) st.st_size > a->max_result)
    return arc_err (err, "the archive helper sent no archive within the cap");
  *alen = (size_t) st.st_size;
  *arch = mmap (NULL, *alen, PROT_READ, MAP_PRIVATE, fd, 0);
  if (*arch == MAP_FAILED)
    {
      *arch = NULL;
      *alen = 0;
      return sq_err_set (err, errno, "map the result archive");
    }
  return 0;
}

/* Sends req (with json after it) and takes the answer: 0 and the archive,
 * 1 and counts if out/ was left out, -1. */
static int
pack_call (struct archiver *a, const struct arc_request *rq, const char *json, size_t len,
           const int *fds, int nfds, struct arc_counts *counts, void **arch, size_t *alen,
           sq_err *err)
{
  char buf[sizeof (struct arc_request) + ARC_JSON_MAX];
  struct arc_reply r;
  cleanup_close int fd = -1;

  *arch = NULL;
  *alen = 0;
  if (a->sock < 0 || !a->used)
    return sq_err_set (err, EINVAL, "no job process to pack the result");
  if (len > ARC_JSON_MAX)
    return sq_err_set (err, EFBIG, "result.json is larger than %d bytes", ARC_JSON_MAX);
  memcpy (buf, rq, sizeof *rq);
  memcpy (buf + sizeof *rq, json, len);
  if (call (a, buf, sizeof *rq + len, fds, nfds, NULL, NULL, &r, &fd, err) < 0)
    return -1;
  if (r.status != ARC_OK && r.status != ARC_TRUNCATE)
    {
      retire (a);
      return arc_err (err, "%s", r.msg);
    }
  take_counts (&r, counts);
  if (r.status == ARC_TRUNCATE)
    return 1;
  return take_archive (a, fd, arch, alen, err);
}

int
archiver_pack (struct archiver *a, int stdout_fd, int stderr_fd, int out_fd,
               const char *json_head, size_t len, struct arc_counts *counts, void **arch,
               size_t *alen, sq_err *err)
{
  struct arc_request rq = { .op = ARC_PACK, .has_out = out_fd >= 0 };
  return pack_call (a, &rq, json_head, len, (int[]){ stdout_fd, stderr_fd, out_fd },
                    out_fd >= 0 ? 3 : 2, counts, arch, alen, err);
}

int
archiver_finish (struct archiver *a, const char *json, size_t len,
                 struct arc_counts *counts, void **arch, size_t *alen, sq_err *err)
{
  struct arc_request rq = { .op = ARC_FINISH };
  return pack_call (a, &rq, json, len, NULL, 0, counts, arch, alen, err);
}

void
archiver_free (void *arch, size_t alen)
{
  if (arch)
    munmap (arch, alen);
}

void
archiver_done (struct archiver *a)
{
  if (a->used)
    retire (a);
}

void
archiver_fini (struct archiver *a)
{
  retire (a);
}
