/* Unpacking an untrusted tar archive into a directory, by fd: every path
 * checked and normalized, every component opened without following
 * links, links kept inside, sizes, entries and the expansion ratio
 * capped. Runs only in processes that hold nothing of the worker's
 * (worker/archiver.c) or in the CLI for the user's own archives. */
#define _GNU_SOURCE
#include "archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

void
sq_unpack_limits_default (struct sq_unpack_limits *l)
{
  l->max_entries = 10000;
  l->max_bytes = 1ULL << 30;
  l->max_depth = 32;
  l->max_path = 1024;
  l->max_ratio = 200;
  l->select = NULL;
}

/* Opens one component (no '/', never "." or "..": check_path made sure)
 * as a directory below dfd, refusing a symlink and a mount crossing. The
 * same as openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV
 * for a single component, with calls that every kernel and every seccomp
 * filter in front of sandq allows (systemd's RestrictSUIDSGID= answers
 * openat2 with ENOSYS). */
static int
open_subdir (int dfd, const char *name, dev_t dev)
{
  struct stat st;
  int fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0 || st.st_dev != dev)
    {
      close (fd);
      errno = EXDEV;
      return -1;
    }
  return fd;
}

/* Checks an archive path and normalizes it into out ("./a//b/" -> "a/b").
 * Returns its depth, or -1 with err naming the entry. */
static int
check_path (const char *p, char *out, size_t outlen, const struct sq_unpack_limits *lim,
            sq_err *err)
{
  size_t o = 0;
  int depth = 0;
  const char *s = p;

  if (!p || !*p)
    return sq_err_set (err, 0, "entry with an empty name");
  if (p[0] == '/')
    return sq_err_set (err, 0, "entry '%.200s': absolute paths are not allowed", p);
  if (strlen (p) > lim->max_path)
    return sq_err_set (err, 0,
                       "entry '%.64s...': path longer than the limit of %zu bytes", p,
                       lim->max_path);
  for (const unsigned char *c = (const unsigned char *) p; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      return sq_err_set (err, 0, "entry '%.200s': control characters in the name", p);
  while (*s)
    {
      const char *e = strchr (s, '/');
      size_t n = e ? (size_t) (e - s) : strlen (s);
      if (n == 2 && s[0] == '.' && s[1] == '.')
        return sq_err_set (err, 0, "entry '%.200s': '..' is not allowed", p);
      if (n > 0 && !(n == 1 && s[0] == '.'))
        {
          if (o + n + 2 > outlen)
            return sq_err_set (err, 0, "entry '%.64s...': path too long", p);
          if (o)
            out[o++] = '/';
          memcpy (out + o, s, n);
          o += n;
          depth++;
        }
      s += n + (e ? 1 : 0);
    }
  out[o] = '\0';
  if ((unsigned) depth > lim->max_depth)
    return sq_err_set (err, 0, "entry '%.200s': nested deeper than the limit of %u", p,
                       lim->max_depth);
  return depth;
}

/* True if a link target, seen from the directory of the entry at depth
 * `depth` (its parent has depth - 1 components), stays inside the root.
 *
 * Text alone cannot tell where a ".." after a name leads: the name may be
 * another link of the archive (s -> ../.., then t -> d1/d2/s/.. is "d1/d2"
 * as text but the root's parent when followed). So ".." may only lead the
 * target. Then the target climbs from the link's own directory, whose
 * parents are real directories (open_parent follows no link), and only
 * descends after that, through names that are real directories or links
 * that themselves stay inside: by induction, every link does. */
static int
link_stays_inside (const char *target, int depth)
{
  int level = depth - 1, descended = 0;
  const char *s = target;

  if (!*target || target[0] == '/')
    return 0;
  while (*s)
    {
      const char *e = strchr (s, '/');
      size_t n = e ? (size_t) (e - s) : strlen (s);
      if (n == 2 && s[0] == '.' && s[1] == '.')
        {
          if (descended || --level < 0)
            return 0;
        }
      else if (n > 0 && !(n == 1 && s[0] == '.'))
        descended = 1, level++;
      s += n + (e ? 1 : 0);
    }
  return 1;
}

/* Opens (creating as needed) the parent directory of a normalized path,
 * one component at a time: each parent must be a real directory (no
 * symlink is followed on the way) beneath the root. */
static int
open_parent (int rootfd, char *path, const char **name, sq_err *err)
{
  char *slash = strrchr (path, '/');
  int dfd = fcntl (rootfd, F_DUPFD_CLOEXEC, 3);
  struct stat root;

  if (dfd < 0 || fstat (dfd, &root) < 0)
    {
      sq_err_set (err, errno, "open the unpack directory");
      if (dfd >= 0)
        close (dfd);
      return -1;
    }
  if (!slash)
    {
      *name = path;
      return dfd;
    }
  *slash = '\0';
  *name = slash + 1;
  for (char *c = path; *c;)
    {
      char *e = strchr (c, '/');
      int nfd;
      if (e)
        *e = '\0';
      if (mkdirat (dfd, c, 0755) < 0 && errno != EEXIST)
        {
          sq_err_set (err, errno, "entry '%s/%s': create parent '%s'", path, *name, c);
          nfd = -1;
        }
      else
        {
          nfd = open_subdir (dfd, c, root.st_dev);
          if (nfd < 0)
            sq_err_set (err, errno,
                        "entry '%s/%s': parent '%s' is not a directory "
                        "inside the job",
                        path, *name, c);
        }
      if (e)
        *e = '/';
      close (dfd);
      if (nfd < 0)
        {
          *slash = '/';
          return -1;
        }
      dfd = nfd;
      c = e ? e + 1 : c + strlen (c);
    }
  *slash = '/';
  return dfd;
}

static int
extract_data (struct archive *a, int fd, const char *path, uint64_t *total,
              const struct sq_unpack_limits *lim, sq_err *err)
{
  const void *blk;
  size_t size;
  la_int64_t off;
  int r;

  while ((r = archive_read_data_block (a, &blk, &size, &off)) == ARCHIVE_OK)
    {
      *total += size;
      if (*total > lim->max_bytes)
        {
          char b[32];
          sq_format_size (lim->max_bytes, b, sizeof b);
          sq_err_set (err, 0,
                      "entry '%.200s': the files add up to more "
                      "than the limit of %s",
                      path, b);
          if (err)
            err->code = EFBIG; /* a size cap: the caller names it */
          return -1;
        }
      /* A disk that fills up mid-block writes part of it first: only the
       * next write says why. */
      for (size_t done = 0; done < size;)
        {
          ssize_t n = pwrite (fd, (const char *) blk + done, size - done, off + done);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            return sq_err_set (err, n < 0 ? errno : ENOSPC, "entry '%.200s': write",
                               path);
          done += (size_t) n;
        }
    }
  if (r != ARCHIVE_EOF)
    return sq_err_set (err, 0, "entry '%.200s': %s", path, archive_error_string (a));
  return 0;
}

/* A hard link entry at pfd/name (path) to hl, an earlier file of the
 * archive. */
static int
unpack_hardlink (int rootfd, int pfd, const char *name, const char *path, const char *hl,
                 const struct sq_unpack_limits *lim, sq_err *err)
{
  char tpath[PATH_MAX];
  const char *tname;
  cleanup_close int tfd = -1;
  struct stat st;

  if (check_path (hl, tpath, sizeof tpath, lim, err) <= 0)
    return sq_err_wrap (err, "hard link '%s'", path);
  tfd = open_parent (rootfd, tpath, &tname, err);
  if (tfd < 0)
    return -1;
  if (fstatat (tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG (st.st_mode))
    return sq_err_set (err, 0,
                       "hard link '%s': its target '%s' is not a file "
                       "inside the job",
                       path, hl);
  if (linkat (tfd, tname, pfd, name, 0) < 0)
    return sq_err_set (err, errno, "hard link '%s'", path);
  return 0;
}

/* Any other entry e at pfd/name (path, depth components deep): a file,
 * a directory or a symlink; nothing else. */
static int
unpack_entry (struct archive *a, struct archive_entry *e, int pfd, const char *name,
              const char *path, int depth, uint64_t *total,
              const struct sq_unpack_limits *lim, sq_err *err)
{
  mode_t type = archive_entry_filetype (e);
  mode_t mode = archive_entry_perm (e) & 0777;
  const char *sl = archive_entry_symlink (e);
  cleanup_close int fd = -1;

  switch (type)
    {
    case AE_IFREG:
      fd = openat (pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   mode | 0600);
      if (fd < 0)
        return sq_err_set (err, errno, "entry '%s'", path);
      if (extract_data (a, fd, path, total, lim, err) < 0)
        return -1;
      /* fchmod after writing: umask may have narrowed the mode, and
       * setuid/setgid bits never come through. */
      fchmod (fd, mode);
      return 0;
    case AE_IFDIR:
      if (mkdirat (pfd, name, 0755) < 0 && errno != EEXIST)
        return sq_err_set (err, errno, "entry '%s'", path);
      return 0;
    case AE_IFLNK:
      if (!sl || !link_stays_inside (sl, depth))
        return sq_err_set (err, 0,
                           "entry '%s': symlink to '%.200s' leaves the job "
                           "directory (a target must stay inside, with any "
                           "'..' only at its start)",
                           path, sl ? sl : "");
      if (symlinkat (sl, pfd, name) < 0)
        return sq_err_set (err, errno, "entry '%s'", path);
      return 0;
    default:
      return sq_err_set (err, 0, "entry '%s': %s are not allowed", path,
                         type == AE_IFIFO                       ? "FIFOs"
                         : type == AE_IFSOCK                    ? "sockets"
                         : type == AE_IFCHR || type == AE_IFBLK ? "devices"
                                                                : "special files");
    }
}

/* With lim->select ("out"): whether path lies below it, and if so path
 * and *depth without it. */
static int
selected (char *path, int *depth, const char *select)
{
  size_t seln = strlen (select);
  char *first;

  if (strncmp (path, select, seln) != 0 || (path[seln] && path[seln] != '/'))
    return 0;
  first = strchr (path, '/');
  if (!first)
    return 0; /* "out" itself */
  memmove (path, first + 1, strlen (first + 1) + 1);
  (*depth)--;
  return 1;
}

/* A reader of the tar formats and compressions sandq accepts. */
static struct archive *
tar_reader (void)
{
  struct archive *a = archive_read_new ();

  if (!a)
    return NULL;
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_xz (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_filter_bzip2 (a);
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  return a;
}

int
sq_unpack (const void *buf, size_t len, int rootfd, const struct sq_unpack_limits *lim,
           unsigned flags, struct sq_tree_stats *stats, sq_err *err)
{
  struct archive *a;
  struct archive_entry *e;
  uint64_t total = 0;
  int r = -1, rr;
  char path[PATH_MAX];

  memset (stats, 0, sizeof *stats);
  if (len == 0)
    return 0; /* no input at all is fine */
  a = tar_reader ();
  if (!a)
    return sq_err_set (err, ENOMEM, "archive");
  if (archive_read_open_memory (a, buf, len) != ARCHIVE_OK)
    {
      sq_err_set (err, 0, "not a tar archive: %s", archive_error_string (a));
      goto out;
    }
  while ((rr = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      const char *name;
      cleanup_close int pfd = -1;
      int depth = check_path (archive_entry_pathname (e), path, sizeof path, lim, err);
      const char *hl = archive_entry_hardlink (e);

      if (depth < 0)
        goto out;
      if (depth == 0 || (lim->select && !selected (path, &depth, lim->select)))
        continue; /* "./" itself, or not selected */
      if (++stats->entries > lim->max_entries)
        {
          sq_err_set (err, 0, "more than %" PRIu64 " entries (limit reached at '%s')",
                      lim->max_entries, path);
          goto out;
        }
      if ((hl || archive_entry_filetype (e) == AE_IFLNK) && (flags & SQ_UNPACK_NO_LINKS))
        {
          sq_err_set (err, 0, "entry '%s': links are not allowed here", path);
          goto out;
        }
      pfd = open_parent (rootfd, path, &name, err);
      if (pfd < 0)
        goto out;
      if (hl)
        {
          if (unpack_hardlink (rootfd, pfd, name, path, hl, lim, err) < 0)
            goto out;
          continue;
        }
      if (unpack_entry (a, e, pfd, name, path, depth, &total, lim, err) < 0)
        goto out;
      if (lim->max_ratio && total > (1 << 20) && total / lim->max_ratio > len)
        {
          sq_err_set (err, 0,
                      "entry '%s': the archive expands more than %" PRIu64
                      " times its size (a compression bomb?)",
                      path, lim->max_ratio);
          goto out;
        }
    }
  if (rr != ARCHIVE_EOF)
    {
      sq_err_set (err, 0, "corrupt archive: %s", archive_error_string (a));
      goto out;
    }
  stats->bytes = total;
  r = 0;
out:
  archive_read_free (a);
  return r;
}
