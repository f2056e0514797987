/* sandq-archiver: the worker's archive helper. Every byte of libarchive
 * parsing and writing in the worker happens here, never in the worker
 * itself.
 *
 * The worker starts one at start-up (fd 3: its control socket). It is a
 * small, single-threaded process that only forks: for each ARC_SPAWN it
 * forks one job process, which joins the slot's network namespace (no
 * network), keeps only its socket and /dev/null, and waits (the helper
 * has an IPC namespace of its own), chrooted in an empty read-only root
 * (see empty_root). Given the job's work dir (an fd) it takes the job's
 * uid, sets rlimits, and unpacks the input; after the run it packs stdout,
 * stderr and out/ into the result archive, then exits. Hostile input is
 * thus parsed as the job's own uid, by a process that holds no Redis
 * connection, no secret of the worker's, no network and no path to any
 * file of the host's or the job's.
 *
 * Forking from this helper instead of the worker keeps the worker small
 * (it does not even map libarchive) and the forks cheap, and a fork never
 * copies a lock that another thread held. See archiver_proto.h for the
 * messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/joblimits.h"
#include "../common/util.h"
#include "../sandbox/sandbox.h"
#include "../sandbox/seccomp.h"
#include "archiver_job.h"
#include "archiver_proto.h"
#include "../common/fdpass.h"

/* Job processes chroot into an empty, read-only tmpfs of the helper's own
 * (a detached mount: it has no path), never into the job's directory,
 * which the job writes. glibc opens files by absolute path on its own:
 * gconv's configuration and modules for a charset conversion (libarchive
 * asks for one), the timezone, NSS. Chrooted into the job's directory, a
 * job that planted gconv-modules and a library of its own in it had that
 * library loaded here, outside the sandbox, without its seccomp filter
 * and namespaces. The job's directory is reached only through the fds
 * the worker passes. */
static int empty_root = -1;

ssize_t
arc_recv_fds (int sock, void *buf, size_t len, int *fds, int *nfds)
{
  return fdpass_recv (sock, buf, len, fds, MAX_FDS, nfds, 0);
}

int
arc_send_reply (int sock, const struct arc_reply *r, int fd)
{
  return fdpass_send (sock, r, sizeof *r, &fd, fd >= 0 ? 1 : 0);
}

void
arc_fail (int sock, char status, const char *msg)
{
  struct arc_reply r = { .status = status };
  snprintf (r.msg, sizeof r.msg, "%s", msg);
  arc_send_reply (sock, &r, -1);
  _exit (1);
}

static void *
map_fd (int fd, uint64_t len)
{
  void *p = len ? mmap (NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  return p == MAP_FAILED ? NULL : p;
}

void *
arc_map_whole (int fd, size_t *len)
{
  struct stat st;
  *len = 0;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size == 0)
    return NULL;
  *len = (size_t) st.st_size;
  return map_fd (fd, *len);
}

/* The stack a program gets in a sandbox, and so this helper too. */
#define HELPER_STACK ((rlim_t) 8 << 20)

/* The job's uid, under rlimits (the process is chrooted in the empty root
 * already). The file-size cap is the disk limit while unpacking and is
 * raised (soft only) to the result cap for the archive. */
static void
drop_privileges (int sock, const struct arc_request *rq, pid_t parent)
{
  uid_t uid = rq->uid;
  uint64_t fsz_hard = rq->disk_bytes > rq->max_result + (1 << 20)
                          ? rq->disk_bytes
                          : rq->max_result + (1 << 20);
  struct rlimit cpu = { 120, 121 };
  struct rlimit fsz = { rq->disk_bytes, fsz_hard };
  sq_err err = { 0 };
#ifndef __SANITIZE_ADDRESS__
  /* The result is built in memory: room for it twice over, and more. */
  rlim_t as_cap = (rlim_t) ((512ULL << 20) + 2 * rq->max_result);
  struct rlimit as = { as_cap, as_cap };
#endif

  if (syscall (SYS_setgroups, 0, NULL) < 0 || syscall (SYS_setresgid, uid, uid, uid) < 0
      || syscall (SYS_setresuid, uid, uid, uid) < 0
      || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
#ifndef __SANITIZE_ADDRESS__
      /* ASan reserves terabytes of shadow address space; the byte caps
       * (RLIMIT_FSIZE, the tmpfs, sq_unpack's own) hold anyway. */
      || setrlimit (RLIMIT_AS, &as) < 0
#endif
      || setrlimit (RLIMIT_CPU, &cpu) < 0 || setrlimit (RLIMIT_FSIZE, &fsz) < 0)
    {
      sq_err_set (&err, errno, "drop privileges for unpacking");
      arc_fail (sock, ARC_FAILED, err.msg);
    }
  /* After the uid change, which clears it: die with the helper. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid () != parent)
    _exit (2);
  signal (SIGXFSZ, SIG_IGN);
  /* The job's directories as the program would make them, not as the
   * worker's umask would (a service's UMask=0077): this process writes
   * nothing but the job's own files. */
  umask (022);
}

/* Whether an errno from unpacking is sandq's fault rather than the
 * input's: a call this host does not allow or support (a seccomp filter in
 * front of the worker, an old kernel) or a resource of the helper's own.
 * Such a job is a system_error, retried elsewhere; everything else the
 * input caused (a bad path, a cap, a permission the archive itself set)
 * is the input's, and the job is rejected. */
static int
sandq_fault (int code)
{
  switch (code)
    {
    case ENOSYS:
    case EBADF:
    case EMFILE:
    case ENFILE:
    case EFAULT:
    case EIO:
    case ENODEV:
    case ENXIO:
      return 1;
    default:
      return 0;
    }
}

/* The input, or with select an earlier job's result ("out" or
 * "out/PATH" of it, links refused: sandq's own packer never makes any). */
static void
unpack (int sock, const struct arc_request *rq, const void *buf, uint64_t len,
        const char *select, int root)
{
  struct sq_unpack_limits ul;
  struct sq_tree_stats ts;
  sq_err err = { 0 };

  sq_unpack_limits_default (&ul);
  ul.max_bytes = sq_inputs_max_bytes (rq->disk_bytes, rq->memory_bytes);
  /* A little under the inode cap, which the scratch directories share,
   * so that the entry cap gives the clearer message. */
  ul.max_entries = rq->disk_inodes > 16 ? rq->disk_inodes - 8 : rq->disk_inodes;
  ul.select = select;
  if (sq_unpack (buf, len, root, &ul, select ? SQ_UNPACK_NO_LINKS : 0, &ts, &err) < 0)
    {
      sq_err_inputs_cap (&err, rq->disk_bytes, rq->memory_bytes);
      if (select)
        sq_err_wrap (&err, "the earlier job's %s", select);
      arc_fail (sock, sandq_fault (err.code) ? ARC_FAILED : ARC_BAD_INPUT, err.msg);
    }
}

/* The job process's confinement, before it reads a byte of the job: no
 * network, only its socket (moved to CTL_FD, which it returns) and
 * /dev/null, the sandbox's OOM score, the empty root. */
static int
confine (int sock, int netns_fd, pid_t parent)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid () != parent)
    _exit (2);
  /* No network (the helper already left the host's IPC namespace). */
  if (setns (netns_fd, CLONE_NEWNET) < 0)
    _exit (2);
  /* Only its socket, and /dev/null as stdio: a stray message from a
   * library must never land in a file being unpacked. */
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || (sock != CTL_FD && (dup2 (sock, CTL_FD) < 0 || close (sock) < 0)))
    _exit (2);
  if (null == CTL_FD) /* dup2 above moved the socket over it */
    null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
    _exit (2);
  /* The sandbox's OOM score: in the job's memory cgroup (while it
   * unpacks), it, not the job's waiting init, is the one to go. */
  if (sq_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", SBX_OOM_SCORE_ADJ, NULL)
      < 0)
    _exit (2);
  /* Nothing of the host's or the job's at any absolute path (see
   * empty_root). */
  if (fchdir (empty_root) < 0 || chroot (".") < 0 || chdir ("/") < 0)
    _exit (2);
  syscall (SYS_close_range, CTL_FD + 1, ~0U, 0);
  return CTL_FD;
}

/* Maps the len bytes of fd (then closed); NULL with errno if it cannot. */
static void *
take_map (int fd, uint64_t len)
{
  void *p = map_fd (fd, len);
  int e = errno;

  close (fd);
  errno = e;
  return p;
}

/* ARC_UNPACK: the input and the chained results into the work dir, in the
 * job's memory cgroup, then out of it again. Fills *rq. */
static void
serve_unpack (int sock, struct arc_request *rq, pid_t parent)
{
  int fds[MAX_FDS], nfds;
  sq_err err = { 0 };
  ssize_t n;

  n = arc_recv_fds (sock, rq, sizeof *rq, fds, &nfds);
  if (n != (ssize_t) sizeof *rq || rq->op != ARC_UNPACK || rq->nchained > ARC_MAX_CHAINED
      || nfds != 3 + !!rq->input_len + !!rq->nchained)
    _exit (2); /* the worker went away, or never needed us */
  void *input = rq->input_len ? take_map (fds[3], rq->input_len) : NULL;
  if (rq->input_len && !input)
    {
      sq_err_set (&err, errno, "map the input");
      arc_fail (sock, ARC_FAILED, err.msg);
    }
  uint64_t chained_total = 0;
  for (uint32_t i = 0; i < rq->nchained; i++)
    chained_total += rq->chained_len[i];
  void *chained = NULL;
  if (rq->nchained)
    {
      chained = take_map (fds[nfds - 1], chained_total);
      if (chained_total && !chained)
        {
          sq_err_set (&err, errno, "map the earlier jobs' results");
          arc_fail (sock, ARC_FAILED, err.msg);
        }
    }
  /* Into the job's memory cgroup: the pages unpacked into its disk, and
   * what libarchive allocates for them, count against its memory limit.
   * If they overflow it, the kernel kills this process (its OOM score is
   * the sandbox's, see job_main), and the worker finds the job's OOM
   * count raised. */
  if (write (fds[1], "0", 1) != 1)
    {
      sq_err_set (&err, errno, "enter the job's memory cgroup");
      arc_fail (sock, ARC_FAILED, err.msg);
    }
  close (fds[1]);
  drop_privileges (sock, rq, parent);
  if (rq->input_len)
    {
      unpack (sock, rq, input, rq->input_len, NULL, fds[0]);
      munmap (input, rq->input_len);
    }
  uint64_t off = 0;
  for (uint32_t i = 0; i < rq->nchained; i++)
    {
      rq->chained_select[i][ARC_SELECT_MAX - 1] = '\0';
      unpack (sock, rq, (char *) chained + off, rq->chained_len[i], rq->chained_select[i],
              fds[0]);
      off += rq->chained_len[i];
    }
  if (chained)
    munmap (chained, chained_total);
  close (fds[0]);
  /* Out again before the job starts: its cgroup is emptied when it ends,
   * and this process has the result to pack then. */
  if (write (fds[2], "0", 1) != 1)
    {
      sq_err_set (&err, errno, "leave the job's memory cgroup");
      arc_fail (sock, ARC_FAILED, err.msg);
    }
  close (fds[2]);
}

static void __attribute__ ((noreturn)) job_main (int sock, int netns_fd, pid_t parent)
{
  struct arc_request rq;

  sock = confine (sock, netns_fd, parent);
  serve_unpack (sock, &rq, parent);
  arc_serve_pack (sock, &rq);
}

static void
on_chld (int sig)
{
  (void) sig; /* only to wake ppoll */
}

/* ARC_SPAWN: a job process for the socket fds[0], in the network
 * namespace fds[1]; its pidfd goes back over the socket. */
static void
spawn_job (int *fds, pid_t self, const sigset_t *none)
{
  pid_t pid = fork ();

  if (pid == 0)
    {
      signal (SIGCHLD, SIG_DFL);
      sigprocmask (SIG_SETMASK, none, NULL);
      job_main (fds[0], fds[1], self);
    }
  int pidfd = pid > 0 ? (int) syscall (SYS_pidfd_open, pid, 0) : -1;
  struct arc_reply r = { .status = pidfd >= 0 ? ARC_OK : ARC_FAILED };
  if (pidfd < 0)
    snprintf (r.msg, sizeof r.msg, "%s a job process: %s",
              pid < 0 ? "fork" : "pidfd_open", strerror (errno));
  if (pid > 0 && pidfd < 0)
    kill (pid, SIGKILL);
  arc_send_reply (fds[0], &r, pidfd);
  if (pidfd >= 0)
    close (pidfd);
}

/* Libraries that libarchive links for what sandq never asks of it: xar's
 * XML parser with ICU and the C++ runtime under it, digests and
 * encryption (nettle), lz4, ACLs. A job process has no use for them, and
 * a fork copies every mapping: each one left out makes every job
 * process's fork and exit cheaper. A library missing from this list is
 * merely inherited; the sanitizers' runtimes need the C++ runtime, libm
 * and libgcc_s themselves. */
static const char *const unused_libs[] = {
  "libxml2.so",   "libicuuc.so", "libicudata.so",
  "libnettle.so", "liblz4.so",   "libacl.so",
#ifndef __SANITIZE_ADDRESS__
  "libstdc++.so", "libgcc_s.so", "libm.so",
#endif
};

/* dl_iterate_phdr's callback: an unused library's whole span (its
 * segments and the gaps between them) is left out of every fork. */
static int
leave_out_of_forks (struct dl_phdr_info *info, size_t size, void *data)
{
  const char *base = strrchr (info->dlpi_name, '/');
  uintptr_t lo = UINTPTR_MAX, hi = 0, page = (uintptr_t) sysconf (_SC_PAGESIZE);
  size_t i;

  (void) size;
  (void) data;
  base = base ? base + 1 : info->dlpi_name;
  for (i = 0; i < SQ_ARRAY_SIZE (unused_libs); i++)
    if (strncmp (base, unused_libs[i], strlen (unused_libs[i])) == 0)
      break;
  if (i == SQ_ARRAY_SIZE (unused_libs))
    return 0;
  for (int j = 0; j < info->dlpi_phnum; j++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[j];
      if (ph->p_type != PT_LOAD)
        continue;
      uintptr_t start = info->dlpi_addr + ph->p_vaddr;
      if (start < lo)
        lo = start;
      if (start + ph->p_memsz > hi)
        hi = start + ph->p_memsz;
    }
  if (lo < hi)
    {
      lo &= ~(page - 1);
      hi = (hi + page - 1) & ~(page - 1);
      madvise ((void *) lo, hi - lo, MADV_DONTFORK);
    }
  return 0;
}

/* The helper's own confinement, once, inherited by every job process:
 * only its socket, the empty root, a private IPC namespace, seccomp.
 * 0, or -1 with a message on stderr. */
static int
confine_helper (void)
{
  syscall (SYS_close_range, CTL_FD + 1, ~0U, 0);
  {
    sq_err err = { 0 };
    empty_root = sq_tmpfs_detached (4096, 2, "0555",
                                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
                                        | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                    "job processes' empty root", &err);
    if (empty_root < 0)
      {
        fprintf (stderr, "sandq-archiver: %s\n", err.msg);
        return -1;
      }
  }
  /* No host IPC objects for any job process. They share this private
   * namespace, which none of them uses (one per job cost 4% of a job
   * process's time). */
  if (unshare (CLONE_NEWIPC) < 0)
    {
      perror ("sandq-archiver: unshare the IPC namespace");
      return -1;
    }
  /* From here on the helper and every job process run under the
   * sandbox's seccomp policy, less what a job process needs to set itself
   * up (chroot, and setns into a network namespace): libarchive parses
   * hostile input here, and a bug in it must not reach the calls that
   * attack the kernel or make namespaces. Once, inherited by each fork. */
  {
    struct sbx_seccomp sc;
    sbx_seccomp_builtin (&sc, SBX_POLICY_HELPER);
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sbx_seccomp_load (&sc) < 0)
      {
        perror ("sandq-archiver: load the seccomp filter");
        return -1;
      }
  }
  return 0;
}

int
main (int argc, char **argv)
{
  struct arc_request rq;
  int fds[MAX_FDS], nfds;
  sigset_t chld, none;

  if (argc != 2 || isatty (CTL_FD) || fcntl (CTL_FD, F_GETFD) < 0)
    {
      fprintf (stderr, "sandq-archiver: the archive helper of sandq-worker, which starts "
                       "it; it is not run by hand\n");
      return 2;
    }
  pid_t worker = (pid_t) strtol (argv[1], NULL, 10);
  /* Hostile archives are parsed here with the address space randomised,
   * whatever the worker was started under (`setarch -R`), and with an
   * 8 MiB stack (within the hard limit), whatever its `ulimit -s`, which
   * also picks the address space's layout. Both take effect at an
   * execve, so this one is done again with them; each is set once and
   * then holds, so this happens once at most. */
  int again = 0;
  int pers = personality (0xffffffff);
  if (pers != -1 && (pers & ADDR_NO_RANDOMIZE)
      && personality ((unsigned long) pers & ~(unsigned long) ADDR_NO_RANDOMIZE) != -1)
    again = 1;
  struct rlimit stack;
  if (getrlimit (RLIMIT_STACK, &stack) == 0)
    {
      rlim_t want = stack.rlim_max < HELPER_STACK ? stack.rlim_max : HELPER_STACK;
      if (stack.rlim_cur != want)
        {
          stack.rlim_cur = want;
          if (setrlimit (RLIMIT_STACK, &stack) == 0)
            again = 1;
        }
    }
  if (again)
    {
      execv ("/proc/self/exe", argv);
      return 1;
    }
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid () != worker)
    return 1;
  prctl (PR_SET_NAME, "sandq-archiver", 0, 0, 0);
  /* Before any job process chroots into the empty root, where no locale
   * (nor gconv module) can be loaded. */
  sq_archive_locale (0);
  dl_iterate_phdr (leave_out_of_forks, NULL);
  /* It ends with the worker (above), not when a stop signal meant for
   * the worker, which drains, reaches it too. */
  signal (SIGTERM, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  if (confine_helper () < 0)
    return 1;
  /* SIGCHLD is blocked but inside ppoll: job processes are reaped as they
   * end, and never between a fork and its pidfd_open (a pid is never
   * reused under us). */
  struct sigaction sa = { .sa_handler = on_chld };
  sigaction (SIGCHLD, &sa, NULL);
  sigemptyset (&none);
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_BLOCK, &chld, NULL);
  pid_t self = getpid ();
  for (;;)
    {
      struct pollfd pf = { CTL_FD, POLLIN, 0 };
      int st;
      while (waitpid (-1, &st, WNOHANG) > 0)
        ;
      if (ppoll (&pf, 1, NULL, &none) < 0)
        {
          if (errno == EINTR)
            continue;
          return 1;
        }
      ssize_t n = arc_recv_fds (CTL_FD, &rq, sizeof rq, fds, &nfds);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        return 0; /* the worker closed its end, or went away */
      if (n != (ssize_t) sizeof rq || rq.op != ARC_SPAWN || nfds != 2)
        {
          for (int i = 0; i < nfds; i++)
            close (fds[i]);
          continue;
        }
      spawn_job (fds, self, &none);
      for (int i = 0; i < nfds; i++)
        close (fds[i]);
    }
}
