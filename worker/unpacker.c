/* The unpacker: a child process that unpacks one job's input tarball into
 * the sandbox's work directory, chrooted there, as the job's uid, under
 * rlimits, holding no descriptor of the worker's (no Redis connection):
 * hostile parsing never runs as root nor near anything worth having.
 *
 * A slot forks its next unpacker before it claims a job, and reaps the
 * last one after: a job then waits only for the unpacking itself, not for
 * a fork and an exit of the (large) worker process.
 *
 * Protocol on a SOCK_SEQPACKET pair: the worker sends a struct request
 * with two descriptors (work dir, tarball memfd); the child answers with
 * one message, a status byte ('0' unpacked, '1' bad input, '2' failure)
 * and a text, and exits.
 */
#define _GNU_SOURCE
#include "unpacker.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/util.h"

#define UNPACK_TIMEOUT_MS 60000

struct request
{
  uint32_t uid;
  uint64_t disk_bytes, disk_inodes, len;
};

static void __attribute__ ((noreturn)) reply (int sock, char status, const char *msg)
{
  char buf[SQ_ERR_MSG_MAX + 1];
  int n = snprintf (buf, sizeof buf, "%c%s", status, msg);
  if (send (sock, buf, n < (int) sizeof buf ? n : (int) sizeof buf - 1, MSG_NOSIGNAL) < 0)
    _exit (2);
  _exit (status == '0' ? 0 : 1);
}

static void __attribute__ ((noreturn)) child_main (int sock, int netns_fd, pid_t parent)
{
  struct request rq;
  char cbuf[CMSG_SPACE (2 * sizeof (int))];
  struct iovec iov = { &rq, sizeof rq };
  struct msghdr mh = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
  };
  int fds[2] = { -1, -1 };
  sq_err err = { 0 };

  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid () != parent)
    _exit (2);
  /* No network (it has the worker's memory, Redis password and all) and
   * no host IPC objects. */
  if ((netns_fd >= 0 ? setns (netns_fd, CLONE_NEWNET) : unshare (CLONE_NEWNET)) < 0
      || unshare (CLONE_NEWIPC) < 0)
    _exit (2);
  /* Nothing of the worker's: its Redis connections, other slots' pipes.
   * Its stdio is /dev/null: a stray message from a library must never
   * land in a file being unpacked. */
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || (sock != 3 && (dup2 (sock, 3) < 0 || close (sock) < 0)))
    _exit (2);
  sock = 3;
  if (null == 3) /* dup2 above moved the socket over it */
    null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
    _exit (2);
  syscall (SYS_close_range, 4, ~0U, 0);

  ssize_t n = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  if (n != (ssize_t) sizeof rq || !cm || cm->cmsg_type != SCM_RIGHTS
      || cm->cmsg_len != CMSG_LEN (sizeof fds))
    _exit (2); /* the worker went away, or never needed us */
  memcpy (fds, CMSG_DATA (cm), sizeof fds);

  uid_t uid = rq.uid;
  struct rlimit cpu = { 60, 61 };
  struct rlimit fsz = { rq.disk_bytes, rq.disk_bytes };
#ifndef __SANITIZE_ADDRESS__
  struct rlimit as = { 512ULL << 20, 512ULL << 20 };
#endif
  void *buf = rq.len ? mmap (NULL, rq.len, PROT_READ, MAP_PRIVATE, fds[1], 0) : NULL;
  if (rq.len && buf == MAP_FAILED)
    {
      sq_err_set (&err, errno, "map the input");
      reply (sock, '2', err.msg);
    }
  close (fds[1]);
  if (fchdir (fds[0]) < 0 || chroot (".") < 0 || chdir ("/") < 0 || close (fds[0]) < 0
      || syscall (SYS_setgroups, 0, NULL) < 0
      || syscall (SYS_setresgid, uid, uid, uid) < 0
      || syscall (SYS_setresuid, uid, uid, uid) < 0
      || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
#ifndef __SANITIZE_ADDRESS__
      /* ASan reserves terabytes of shadow address space; the byte caps
       * below (RLIMIT_FSIZE, the tmpfs, sq_unpack's own) hold anyway. */
      || setrlimit (RLIMIT_AS, &as) < 0
#endif
      || setrlimit (RLIMIT_CPU, &cpu) < 0 || setrlimit (RLIMIT_FSIZE, &fsz) < 0)
    {
      sq_err_set (&err, errno, "drop privileges for unpacking");
      reply (sock, '2', err.msg);
    }
  /* After the uid change, which clears it: die with the worker. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid () != parent)
    _exit (2);
  signal (SIGXFSZ, SIG_IGN);

  struct sq_unpack_limits ul;
  struct sq_tree_stats ts;
  sq_unpack_limits_default (&ul);
  ul.max_bytes = rq.disk_bytes;
  /* A little under the inode cap, which the scratch directories share,
   * so that the entry cap gives the clearer message. */
  ul.max_entries = rq.disk_inodes > 16 ? rq.disk_inodes - 8 : rq.disk_inodes;
  int root = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sq_unpack (buf, rq.len, root, &ul, 0, &ts, &err) < 0)
    {
      if (err.code == ENOSPC || err.code == EFBIG)
        sq_err_wrap (&err, "the inputs do not fit in the disk limit");
      reply (sock, '1', err.msg);
    }
  reply (sock, '0', "");
}

/* Reaps the previous unpacker; by now it has long exited. */
static void
reap (struct unpacker *u)
{
  if (u->done_pidfd < 0)
    return;
  syscall (SYS_pidfd_send_signal, u->done_pidfd, SIGKILL, NULL, 0);
  while (waitid (P_PIDFD, u->done_pidfd, NULL, WEXITED) < 0 && errno == EINTR)
    ;
  close (u->done_pidfd);
  u->done_pidfd = -1;
}

/* The waiting unpacker is done with (used, dead or not wanted): its
 * socket is closed, so it sees EOF if it still waits, and it is left to
 * reap. */
static void
retire (struct unpacker *u)
{
  if (u->sock >= 0)
    close (u->sock);
  u->sock = -1;
  u->done_pidfd = u->pidfd;
  u->pidfd = -1;
}

void
unpacker_init (struct unpacker *u)
{
  u->pidfd = u->sock = u->done_pidfd = -1;
}

int
unpacker_prepare (struct unpacker *u, int netns_fd, sq_err *err)
{
  int sv[2];
  pid_t parent = getpid (), pid;

  reap (u);
  if (u->pidfd >= 0)
    {
      /* Still waiting, or died meanwhile (then make another). */
      struct pollfd pf = { u->pidfd, POLLIN, 0 };
      if (poll (&pf, 1, 0) == 0)
        return 0;
      retire (u);
      reap (u);
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return sq_err_set (err, errno, "socketpair for the unpacker");
  pid = fork ();
  if (pid < 0)
    {
      close (sv[0]);
      close (sv[1]);
      return sq_err_set (err, errno, "fork the unpacker");
    }
  if (pid == 0)
    child_main (sv[1], netns_fd, parent);
  close (sv[1]);
  u->sock = sv[0];
  u->pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (u->pidfd < 0)
    {
      int e = errno;
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      close (u->sock);
      u->sock = -1;
      return sq_err_set (err, e, "pidfd_open the unpacker");
    }
  return 0;
}

int
unpacker_run (struct unpacker *u, int netns_fd, int work_fd, uid_t uid,
              uint64_t disk_bytes, uint64_t disk_inodes, const void *buf, size_t len,
              sq_err *err)
{
  struct request rq = { uid, disk_bytes, disk_inodes, len };
  char cbuf[CMSG_SPACE (2 * sizeof (int))];
  struct iovec iov = { &rq, sizeof rq };
  struct msghdr mh = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
  };
  char msg[SQ_ERR_MSG_MAX + 1];
  cleanup_close int mfd = -1;
  ssize_t n;

  if (unpacker_prepare (u, netns_fd, err) < 0)
    return -1;
  mfd = memfd_create ("input", MFD_CLOEXEC);
  if (mfd < 0 || sq_write_all (mfd, buf, len) < 0)
    return sq_err_set (err, errno, "copy the input for the unpacker");
  memset (cbuf, 0, sizeof cbuf);
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (2 * sizeof (int));
  memcpy (CMSG_DATA (cm), (int[]){ work_fd, mfd }, 2 * sizeof (int));
  /* A bounded wait: an unpacker that neither answers nor dies (it runs
   * 60 s of CPU at most, but could block) is killed, and the job fails
   * as a system error, to be retried. */
  struct pollfd pf = { u->sock, POLLIN, 0 };
  int ready = 0;
  if (sendmsg (u->sock, &mh, MSG_NOSIGNAL) < 0)
    n = -1;
  else
    {
      while ((ready = poll (&pf, 1, UNPACK_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
      n = ready > 0 ? recv (u->sock, msg, sizeof msg - 1, MSG_DONTWAIT) : -1;
    }
  /* One job per unpacker: it is done (or dead) now. Its exit is reaped
   * at the next prepare, off the job's path. */
  retire (u);
  if (n < 1)
    {
      reap (u);
      if (ready == 0)
        return sq_err_set (err, ETIMEDOUT, "the unpacker did not answer within %d s",
                           UNPACK_TIMEOUT_MS / 1000);
      return sq_err_set (err, EIO, "the unpacker died");
    }
  msg[n] = '\0';
  if (msg[0] == '0')
    return 0;
  if (msg[0] == '1')
    return sq_err_set (err, EINVAL, "input: %s", msg + 1);
  return sq_err_set (err, EIO, "the unpacker failed: %s", msg + 1);
}

void
unpacker_fini (struct unpacker *u)
{
  reap (u);
  if (u->pidfd >= 0)
    {
      retire (u);
      reap (u);
    }
}
