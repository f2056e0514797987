#define _GNU_SOURCE
#include "archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
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
      if (pwrite (fd, blk, size, off) != (ssize_t) size)
        return sq_err_set (err, errno, "entry '%.200s': write", path);
    }
  if (r != ARCHIVE_EOF)
    return sq_err_set (err, 0, "entry '%.200s': %s", path, archive_error_string (a));
  return 0;
}

int
sq_unpack (const void *buf, size_t len, int rootfd, const struct sq_unpack_limits *lim,
           unsigned flags, struct sq_tree_stats *stats, sq_err *err)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  uint64_t total = 0;
  int r = -1, rr;
  char path[PATH_MAX];

  memset (stats, 0, sizeof *stats);
  if (!a)
    return sq_err_set (err, ENOMEM, "archive");
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_xz (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_filter_bzip2 (a);
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  if (len == 0)
    {
      archive_read_free (a);
      return 0; /* no input at all is fine */
    }
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
      mode_t type = archive_entry_filetype (e);
      mode_t mode = archive_entry_perm (e) & 0777;
      const char *hl = archive_entry_hardlink (e);
      const char *sl = archive_entry_symlink (e);

      if (depth < 0)
        goto out;
      if (depth == 0)
        continue; /* "./" itself */
      if (lim->select)
        {
          size_t seln = strlen (lim->select);
          if (strncmp (path, lim->select, seln) != 0 || (path[seln] && path[seln] != '/'))
            continue;
          char *first = strchr (path, '/');
          if (!first)
            continue; /* "out" itself */
          memmove (path, first + 1, strlen (first + 1) + 1);
          depth--;
        }
      if (++stats->entries > lim->max_entries)
        {
          sq_err_set (err, 0, "more than %" PRIu64 " entries (limit reached at '%s')",
                      lim->max_entries, path);
          goto out;
        }
      if ((hl || type == AE_IFLNK) && (flags & SQ_UNPACK_NO_LINKS))
        {
          sq_err_set (err, 0, "entry '%s': links are not allowed here", path);
          goto out;
        }
      pfd = open_parent (rootfd, path, &name, err);
      if (pfd < 0)
        goto out;
      if (hl)
        {
          char tpath[PATH_MAX];
          const char *tname;
          cleanup_close int tfd = -1;
          struct stat st;
          if (check_path (hl, tpath, sizeof tpath, lim, err) <= 0)
            {
              sq_err_wrap (err, "hard link '%s'", path);
              goto out;
            }
          tfd = open_parent (rootfd, tpath, &tname, err);
          if (tfd < 0)
            goto out;
          if (fstatat (tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG (st.st_mode))
            {
              sq_err_set (err, 0,
                          "hard link '%s': its target '%s' is not a file "
                          "inside the job",
                          path, hl);
              goto out;
            }
          if (linkat (tfd, tname, pfd, name, 0) < 0)
            {
              sq_err_set (err, errno, "hard link '%s'", path);
              goto out;
            }
          continue;
        }
      switch (type)
        {
        case AE_IFREG:
          {
            cleanup_close int fd
                = openat (pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          mode | 0600);
            if (fd < 0)
              {
                sq_err_set (err, errno, "entry '%s'", path);
                goto out;
              }
            if (extract_data (a, fd, path, &total, lim, err) < 0)
              goto out;
            /* fchmod after writing: umask may have narrowed the mode, and
             * setuid/setgid bits never come through. */
            fchmod (fd, mode);
            break;
          }
        case AE_IFDIR:
          if (mkdirat (pfd, name, 0755) < 0 && errno != EEXIST)
            {
              sq_err_set (err, errno, "entry '%s'", path);
              goto out;
            }
          break;
        case AE_IFLNK:
          if (!sl || !link_stays_inside (sl, depth))
            {
              sq_err_set (err, 0,
                          "entry '%s': symlink to '%.200s' leaves the job "
                          "directory (a target must stay inside, with any "
                          "'..' only at its start)",
                          path, sl ? sl : "");
              goto out;
            }
          if (symlinkat (sl, pfd, name) < 0)
            {
              sq_err_set (err, errno, "entry '%s'", path);
              goto out;
            }
          break;
        default:
          sq_err_set (err, 0, "entry '%s': %s are not allowed", path,
                      type == AE_IFIFO                       ? "FIFOs"
                      : type == AE_IFSOCK                    ? "sockets"
                      : type == AE_IFCHR || type == AE_IFBLK ? "devices"
                                                             : "special files");
          goto out;
        }
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

struct sq_packer
{
  struct archive *a;
  char *buf;
  size_t len, cap;
  uint64_t max;
  int full;
  uint64_t read_bytes; /* of host files, for progress */
  void (*progress) (uint64_t read_bytes, void *ctx);
  void *progress_ctx;
};

static la_ssize_t
pk_write (struct archive *a, void *ud, const void *data, size_t n)
{
  struct sq_packer *p = ud;
  (void) a;
  if (p->len + n > p->max)
    {
      p->full = 1;
      archive_set_error (a, EFBIG, "archive larger than its cap");
      return -1;
    }
  if (p->len + n > p->cap)
    {
      size_t nc = p->cap ? p->cap : 65536;
      while (nc < p->len + n)
        nc *= 2;
      char *nb = realloc (p->buf, nc);
      if (!nb)
        {
          archive_set_error (a, ENOMEM, "out of memory");
          return -1;
        }
      p->buf = nb;
      p->cap = nc;
    }
  memcpy (p->buf + p->len, data, n);
  p->len += n;
  return (la_ssize_t) n;
}

struct sq_packer *
sq_packer_new (uint64_t max_bytes, sq_err *err)
{
  struct sq_packer *p = calloc (1, sizeof *p);
  if (!p)
    {
      sq_err_set (err, ENOMEM, "archive");
      return NULL;
    }
  p->max = max_bytes;
  p->a = archive_write_new ();
  if (!p->a || archive_write_add_filter_gzip (p->a) != ARCHIVE_OK
      || archive_write_set_format_pax_restricted (p->a) != ARCHIVE_OK
      || archive_write_set_bytes_in_last_block (p->a, 1) != ARCHIVE_OK
      /* Level 1: results are mostly small or already compressed; speed wins. */
      || archive_write_set_filter_option (p->a, "gzip", "compression-level", "1")
             != ARCHIVE_OK
      || archive_write_open2 (p->a, p, NULL, pk_write, NULL, NULL) != ARCHIVE_OK)
    {
      sq_err_set (err, 0, "archive: %s",
                  p->a ? archive_error_string (p->a) : "no memory");
      sq_packer_free (p);
      return NULL;
    }
  return p;
}

static int
pk_fail (struct sq_packer *p, const char *name, sq_err *err)
{
  if (p->full)
    {
      char b[32];
      sq_format_size (p->max, b, sizeof b);
      return sq_err_set (err, EFBIG,
                         "the archive is larger than its cap of %s "
                         "(at '%s')",
                         b, name);
    }
  return sq_err_set (err, 0, "archive '%s': %s", name, archive_error_string (p->a));
}

void
sq_archive_locale (int from_env)
{
  /* libarchive converts names between the archive's UTF-8 (pax headers)
   * and the locale's character set; in the C locale that is ASCII, and
   * every other name fails. */
  if (from_env && setlocale (LC_CTYPE, "")
      && strcmp (nl_langinfo (CODESET), "ANSI_X3.4-1968"))
    return;
  if (!setlocale (LC_CTYPE, "C.UTF-8"))
    setlocale (LC_CTYPE, "C.utf8");
}

static int
add_header (struct sq_packer *p, const char *name, mode_t type, mode_t perm, int64_t size,
            const char *symlink, sq_err *err)
{
  struct archive_entry *e = archive_entry_new ();
  int r;
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, perm & 0777);
  archive_entry_set_size (e, size);
  archive_entry_set_mtime (e, (time_t) (sq_wall_ms () / 1000), 0);
  if (symlink)
    archive_entry_set_symlink (e, symlink);
  r = archive_write_header (p->a, e);
  archive_entry_free (e);
  /* ARCHIVE_WARN: a name that is not valid in the locale's character set
   * (bytes a job chose) was written as it is, marked hdrcharset=BINARY.
   * The entry is there; a job's choice of bytes is no failure. */
  return r == ARCHIVE_OK || r == ARCHIVE_WARN ? 0 : pk_fail (p, name, err);
}

int
sq_packer_add_mem (struct sq_packer *p, const char *name, const void *data, size_t len,
                   sq_err *err)
{
  if (add_header (p, name, AE_IFREG, 0644, (int64_t) len, NULL, err) < 0)
    return -1;
  if (len && archive_write_data (p->a, data, len) != (la_ssize_t) len)
    return pk_fail (p, name, err);
  return 0;
}

static int
add_fd (struct sq_packer *p, int fd, const char *name, const struct stat *st, sq_err *err)
{
  char buf[65536];
  ssize_t n;
  int64_t left = st->st_size;

  if (add_header (p, name, AE_IFREG, st->st_mode, st->st_size, NULL, err) < 0)
    return -1;
  while (left > 0 && (n = read (fd, buf, sizeof buf)) > 0)
    {
      if (n > left)
        n = left;
      if (archive_write_data (p->a, buf, n) != n)
        return pk_fail (p, name, err);
      left -= n;
      p->read_bytes += n;
      if (p->progress)
        p->progress (p->read_bytes, p->progress_ctx);
    }
  if (left > 0)
    return sq_err_set (err, errno ? errno : EIO, "read '%s' (it shrank?)", name);
  return 0;
}

struct tree_ctx
{
  struct sq_packer *p;
  const char *prefix;
  int hostile;
  struct sq_tree_stats *stats;
};

static int
add_entry (const struct sq_tree_entry *e, void *ctx, sq_err *err)
{
  struct tree_ctx *t = ctx;
  char name[PATH_MAX + 64];

  if (!sq_tree_name_ok (e->name))
    {
      if (t->hostile)
        {
          t->stats->skipped++;
          return 1;
        }
      return sq_err_set (err, 0, "'%s' has control characters in its name", e->path);
    }
  snprintf (name, sizeof name, "%s%s%s", t->prefix, t->prefix[0] ? "/" : "", e->path);
  /* A job may have locked its own files away from itself. Its tree is
   * packed by a process of its uid once it is over (the owner may always
   * chmod), so it is opened up rather than lost. */
  mode_t need = S_ISDIR (e->st.st_mode) ? 0500 : S_ISREG (e->st.st_mode) ? 0400 : 0;
  if (t->hostile && (e->st.st_mode & need) != need && e->st.st_uid == geteuid ()
      && fchmodat (e->parentfd, e->name, (e->st.st_mode & 07777) | need, 0) < 0)
    return sq_err_set (err, errno, "open up '%s'", e->path);
  if (S_ISDIR (e->st.st_mode))
    return add_header (t->p, name, AE_IFDIR, e->st.st_mode | 0700, 0, NULL, err);
  if (S_ISREG (e->st.st_mode))
    {
      cleanup_close int fd
          = openat (e->parentfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
        return sq_err_set (err, errno, "open '%s'", e->path);
      return add_fd (t->p, fd, name, &st, err);
    }
  if (S_ISLNK (e->st.st_mode) && !t->hostile)
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (e->parentfd, e->name, target, sizeof target - 1);
      if (n < 0)
        return sq_err_set (err, errno, "read link '%s'", e->path);
      target[n] = '\0';
      return add_header (t->p, name, AE_IFLNK, 0777, 0, target, err) < 0 ? -1 : 1;
    }
  t->stats->skipped++;
  return 1;
}

int
sq_packer_add_tree (struct sq_packer *p, int dirfd, const char *prefix,
                    const struct sq_tree_limits *lim, struct sq_tree_stats *stats,
                    sq_err *err)
{
  struct tree_ctx t = { p, prefix, 1, stats };
  return sq_tree_walk (dirfd, lim, add_entry, &t, stats, err);
}

int
sq_packer_add_path (struct sq_packer *p, const char *path, const char *name, sq_err *err)
{
  struct stat st;
  struct sq_tree_stats stats;
  struct sq_tree_limits lim = { 1000000, UINT64_MAX, 64, 4095 };

  if (lstat (path, &st) < 0)
    return sq_err_set (err, errno, "'%s'", path);
  if (S_ISREG (st.st_mode))
    {
      cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return sq_err_set (err, errno, "open '%s'", path);
      return add_fd (p, fd, name, &st, err);
    }
  if (S_ISDIR (st.st_mode))
    {
      cleanup_close int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      struct tree_ctx t = { p, name, 0, &stats };
      if (fd < 0)
        return sq_err_set (err, errno, "open '%s'", path);
      if (add_header (p, name, AE_IFDIR, st.st_mode, 0, NULL, err) < 0)
        return -1;
      return sq_tree_walk (fd, &lim, add_entry, &t, &stats, err);
    }
  return sq_err_set (err, 0, "'%s' is neither a file nor a directory", path);
}

void
sq_packer_set_progress (struct sq_packer *p, void (*fn) (uint64_t read_bytes, void *ctx),
                        void *ctx)
{
  p->progress = fn;
  p->progress_ctx = ctx;
}

int
sq_packer_finish (struct sq_packer *p, void **out, size_t *len, sq_err *err)
{
  if (archive_write_close (p->a) != ARCHIVE_OK)
    {
      int r = pk_fail (p, "end", err);
      sq_packer_free (p);
      return r;
    }
  *out = p->buf;
  *len = p->len;
  p->buf = NULL;
  sq_packer_free (p);
  return 0;
}

void
sq_packer_free (struct sq_packer *p)
{
  if (!p)
    return;
  if (p->a)
    archive_write_free (p->a);
  free (p->buf);
  free (p);
}

void *
sq_archive_read_member (const void *buf, size_t len, const char *name, size_t max,
                        size_t *outlen, sq_err *err)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  void *out = NULL;

  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  if (archive_read_open_memory (a, buf, len) != ARCHIVE_OK)
    {
      sq_err_set (err, 0, "not a tar archive: %s", archive_error_string (a));
      archive_read_free (a);
      return NULL;
    }
  while (archive_read_next_header (a, &e) == ARCHIVE_OK)
    {
      if (strcmp (archive_entry_pathname (e), name) != 0
          || archive_entry_filetype (e) != AE_IFREG)
        continue;
      int64_t sz = archive_entry_size (e);
      if (sz < 0 || (uint64_t) sz > max)
        {
          sq_err_set (err, EFBIG, "'%s' in the archive is larger than %zu bytes", name,
                      max);
          break;
        }
      out = malloc ((size_t) sz + 1);
      if (!out)
        break;
      la_ssize_t n = archive_read_data (a, out, (size_t) sz);
      if (n != sz)
        {
          sq_err_set (err, 0, "read '%s': %s", name, archive_error_string (a));
          free (out);
          out = NULL;
          break;
        }
      ((char *) out)[sz] = '\0';
      *outlen = (size_t) sz;
      break;
    }
  archive_read_free (a);
  if (!out && !err->msg[0])
    sq_err_set (err, ENOENT, "'%s' is not in the archive", name);
  return out;
}

int
sq_archive_each (const void *buf, size_t len, size_t max,
                 int (*fn) (const char *name, const void *data, uint64_t size, void *ctx),
                 void *ctx, sq_err *err)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  void *data = NULL;
  int r, ret = 0;

  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  if (archive_read_open_memory (a, buf, len) != ARCHIVE_OK)
    {
      sq_err_set (err, 0, "not a tar archive: %s", archive_error_string (a));
      archive_read_free (a);
      return -1;
    }
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      if (archive_entry_filetype (e) != AE_IFREG)
        continue;
      int64_t sz = archive_entry_size (e);
      if (sz < 0)
        continue;
      data = NULL;
      if ((uint64_t) sz <= max)
        {
          data = malloc ((size_t) sz + 1);
          if (!data || archive_read_data (a, data, (size_t) sz) != sz)
            {
              sq_err_set (err, data ? 0 : ENOMEM, "read '%s': %s",
                          archive_entry_pathname (e),
                          data ? archive_error_string (a) : "out of memory");
              ret = -1;
              break;
            }
        }
      int stop = fn (archive_entry_pathname (e), data, (uint64_t) sz, ctx);
      free (data);
      data = NULL;
      if (stop)
        break;
    }
  free (data);
  if (ret == 0 && r != ARCHIVE_OK && r != ARCHIVE_EOF)
    ret = sq_err_set (err, 0, "read the archive: %s", archive_error_string (a));
  archive_read_free (a);
  return ret;
}
