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
