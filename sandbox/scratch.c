/* A job's scratch disk: one detached tmpfs, held by fd only, that is the
 * job's whole /work, /tmp and /dev/shm, with its size and inode caps; and
 * the copy of the inputs into it, charged to the job. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mount.h>

#include "../common/cleanup.h"
#include "../common/tree.h"
#include "../common/util.h"

int
sbx_scratch_make (struct sbx *b, sq_err *err)
{
  /* Modes set outright, whatever the caller's umask: tmp and shm are
   * sticky and world-writable like any /tmp, for programs that check. */
  static const struct
  {
    const char *name;
    mode_t mode;
  } dirs[] = {
    { "work", 0755 },
    { "work/out", 0755 },
    { "tmp", 01777 },
    { "shm", 01777 },
  };

  /* The job's whole disk: a tmpfs held by fd only (sq_tmpfs_detached). */
  b->scratch_fd
      = sq_tmpfs_detached (b->lim.disk_bytes, b->lim.disk_inodes, "0755",
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "scratch disk", err);
  if (b->scratch_fd < 0)
    return -1;
  for (size_t i = 0; i < SQ_ARRAY_SIZE (dirs); i++)
    if (mkdirat (b->scratch_fd, dirs[i].name, 0755) < 0
        || fchownat (b->scratch_fd, dirs[i].name, b->uid, b->uid, 0) < 0
        || fchmodat (b->scratch_fd, dirs[i].name, dirs[i].mode, 0) < 0)
      return sq_err_set (err, errno, "create scratch '%s'", dirs[i].name);
  b->work_fd = openat (b->scratch_fd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (b->work_fd < 0)
    return sq_err_set (err, errno, "open scratch");
  return 0;
}

/* Gives the scratch disk of a prewarmed sandbox the job's size and inode
 * caps (it was made with the defaults). */
int
sbx_scratch_resize (struct sbx *b, const struct sbx_limits *lim, sq_err *err)
{
  cleanup_close int fs = -1;

  fs = (int) syscall (SYS_fspick, b->scratch_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
  if (fs < 0)
    return sq_err_set (err, errno, "fspick the scratch disk");
  if (sq_tmpfs_caps (fs, lim->disk_bytes, lim->disk_inodes, "scratch disk", err) < 0)
    return -1;
  if (syscall (SYS_fsconfig, fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
    return sq_err_set (err, errno, "resize the scratch disk");
  return 0;
}

int
sbx_copy_in (struct sbx *b, int srcdirfd, sq_err *err)
{
  struct sq_tree_limits tl = {
    .max_entries = b->lim.disk_inodes,
    .max_bytes = sq_inputs_max_bytes (b->lim.disk_bytes, b->lim.memory_bytes),
    .max_depth = 64,
    .max_path = 4095,
  };
  cleanup_close int join = -1, rd = -1;
  sq_err child = { 0 };
  int p[2], st = 0;
  pid_t pid;

  if (sbx_charge_files (b, &join, NULL, err) < 0)
    return sq_err_wrap (err, "copy the inputs into the sandbox");
  if (pipe2 (p, O_CLOEXEC) < 0)
    return sq_err_set (err, errno, "copy the inputs into the sandbox: pipe");
  rd = p[0];
  /* The copy is made by a child in the job's memory cgroup, so that the
   * pages it writes are charged to the job. Its OOM score is the
   * sandbox's: under the job's cap it, not the waiting init, is the one
   * to go. */
  pid = fork ();
  if (pid == 0)
    {
      struct sq_tree_stats ts;
      int rc = -1;
      close (p[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (write (join, "0", 1) != 1)
        sq_err_set (&child, errno, "enter the job's memory cgroup");
      else if (sq_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", SBX_OOM_SCORE_ADJ,
                                 &child)
               == 0)
        rc = sq_tree_copy (srcdirfd, b->work_fd, &tl, SQ_COPY_SYMLINKS | SQ_COPY_CHOWN,
                           b->uid, b->uid, &ts, &child);
      if (rc < 0 && write (p[1], &child, sizeof child) < 0)
        _exit (2);
      _exit (rc < 0 ? 1 : 0);
    }
  close (p[1]);
  if (pid < 0)
    return sq_err_set (err, errno, "copy the inputs into the sandbox: fork");
  ssize_t n, got = 0;
  while ((n = read (rd, (char *) &child + got, sizeof child - (size_t) got)) > 0
         || (n < 0 && errno == EINTR))
    got += n > 0 ? n : 0;
  while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return 0;
  if (WIFSIGNALED (st) && WTERMSIG (st) == SIGKILL)
    return sq_err_inputs_memory (err, b->lim.memory_bytes);
  if (got != (ssize_t) sizeof child)
    return sq_err_set (err, EIO,
                       "copy the inputs into the sandbox: the copying process "
                       "failed");
  child.msg[sizeof child.msg - 1] = '\0';
  *err = child;
  sq_err_inputs_cap (err, b->lim.disk_bytes, b->lim.memory_bytes);
  return sq_err_wrap (err, "copy the inputs into the sandbox");
}
