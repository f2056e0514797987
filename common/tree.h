/* Walking and copying directory trees that may be hostile.
 *
 * Every step is relative to an open directory fd and uses O_NOFOLLOW, so a
 * symlink is reported as a symlink and never traversed. Entry count, total
 * bytes of regular files, depth and path length are capped; the first cap
 * hit stops the walk with a message that names the entry and the cap
 * (depth and path length: unless skip_too_deep).
 */
#ifndef SQ_TREE_H
#define SQ_TREE_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

struct sq_tree_limits
{
  uint64_t max_entries; /* files, directories and links together */
  uint64_t max_bytes;   /* sum of regular file sizes */
  unsigned max_depth;   /* 1 = only the top directory's entries */
  size_t max_path;      /* longest relative path, in bytes */
  /* A tree a job made: an entry nested deeper than max_depth or with a
   * path longer than max_path is skipped with what is beneath it (counted
   * in entries and skipped), rather than stopping the walk. */
  int skip_too_deep;
};

struct sq_tree_entry
{
  int parentfd;     /* open directory holding the entry */
  const char *name; /* its name in parentfd */
  const char *path; /* relative to the root: "a/b/c" */
  struct stat st;   /* lstat of the entry */
  unsigned depth;   /* 1 for the root's own entries */
};

/* Called for each entry, parents before children. Return 0 to go on
 * (descending into a directory), 1 to skip it (and its subtree), -1 to stop
 * with err set. */
typedef int (*sq_tree_fn) (const struct sq_tree_entry *e, void *ctx, sq_err *err);

struct sq_tree_stats
{
  uint64_t entries;
  uint64_t bytes;
  uint64_t skipped; /* entries left out (links, devices, too deep) */
};

int sq_tree_walk (int rootfd, const struct sq_tree_limits *lim, sq_tree_fn fn, void *ctx,
                  struct sq_tree_stats *stats, sq_err *err);

/* True if a path component is safe to recreate: not empty, ".", "..", no
 * '/', and no control characters. */
int sq_tree_name_ok (const char *name);

enum sq_copy_flags
{
  SQ_COPY_SYMLINKS = 1 << 0,       /* recreate symlinks (else skip them) */
  SQ_COPY_CHOWN = 1 << 1,          /* chown what is created to uid:gid */
  SQ_COPY_SKIP_BAD_NAMES = 1 << 2, /* skip, rather than fail on, bad names */
};

/* Copies the tree at srcfd into the existing directory dstfd: directories,
 * regular files (mode & 0777 only: no setuid, setgid or sticky bits) and,
 * with SQ_COPY_SYMLINKS, symlinks. FIFOs, sockets and devices are skipped
 * and counted in stats->skipped. Nothing is created outside dstfd. */
int sq_tree_copy (int srcfd, int dstfd, const struct sq_tree_limits *lim, unsigned flags,
                  uid_t uid, gid_t gid, struct sq_tree_stats *stats, sq_err *err);

#endif
