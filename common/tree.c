#define _GNU_SOURCE
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int
sq_tree_name_ok (const char *name)
{
  if (!name[0] || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return 0;
  for (const unsigned char *p = (const unsigned char *) name; *p; p++)
    if (*p < 0x20 || *p == 0x7f || *p == '/')
      return 0;
  return 1;
}

struct walk
{
  const struct sq_tree_limits *lim;
  sq_tree_fn fn;
  void *ctx;
  struct sq_tree_stats *stats;
  sq_err *err;
  char path[PATH_MAX];
};

/* Appends name to w->path (at plen) and checks the entry against the
 * limits (path length, depth, count, bytes), stat'ing it into ent->st.
 * 0, 1 if it is to be skipped (too deep, and lim->skip_too_deep), or -1
 * and w->err. */
static int
enter_entry (struct walk *w, int dirfd, const char *name, size_t plen, unsigned depth,
             struct sq_tree_entry *ent, size_t *newlen)
{
  size_t nlen = strlen (name);
  int too_long, too_deep = depth > w->lim->max_depth;

  *newlen = plen + (plen ? 1 : 0) + nlen;
  too_long = *newlen >= sizeof w->path || *newlen > w->lim->max_path;
  w->path[plen] = '\0';
  if (too_long && !w->lim->skip_too_deep)
    return sq_err_set (w->err, 0,
                       "entry '%s/%.64s...' has a path longer than the "
                       "limit of %zu bytes",
                       plen ? w->path : ".", name, w->lim->max_path);
  if (!too_long)
    {
      if (plen)
        w->path[plen] = '/';
      memcpy (w->path + plen + (plen ? 1 : 0), name, nlen + 1);
    }
  if (too_deep && !w->lim->skip_too_deep)
    return sq_err_set (w->err, 0,
                       "entry '%s' is nested deeper than the limit of %u "
                       "directories",
                       w->path, w->lim->max_depth);
  if (++w->stats->entries > w->lim->max_entries)
    {
      sq_err_set (w->err, 0, "more than %" PRIu64 " entries (limit reached at '%s')",
                  w->lim->max_entries, plen || !too_long ? w->path : ".");
      if (w->err)
        w->err->code = EFBIG; /* a size cap: callers may retry smaller */
      return -1;
    }
  if (too_long || too_deep)
    {
      w->stats->skipped++;
      return 1;
    }
  if (fstatat (dirfd, name, &ent->st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      return sq_err_set (w->err, errno, "stat '%s'", w->path);
    }
  if (S_ISREG (ent->st.st_mode))
    {
      w->stats->bytes += ent->st.st_size;
      if (w->stats->bytes > w->lim->max_bytes)
        {
          char lim[32];
          sq_format_size (w->lim->max_bytes, lim, sizeof lim);
          sq_err_set (w->err, 0,
                      "files add up to more than %s (limit reached at "
                      "'%s')",
                      lim, w->path);
          if (w->err)
            w->err->code = EFBIG; /* a size cap: callers may retry smaller */
          return -1;
        }
    }
  return 0;
}

static int
walk_dir (struct walk *w, int dirfd, size_t plen, unsigned depth)
{
  DIR *d;
  struct dirent *e;
  int r = 0;
  /* A new open file description: dup() would share (and move) the
   * caller's directory offset, and a second walk would see nothing. */
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return sq_err_set (w->err, errno, "open directory '%s'", plen ? w->path : ".");
  d = fdopendir (fd);
  if (!d)
    {
      close (fd);
      return sq_err_set (w->err, errno, "read directory '%s'", plen ? w->path : ".");
    }
  while ((e = readdir (d)))
    {
      struct sq_tree_entry ent;
      size_t newlen;
      int cr;

      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      int er = enter_entry (w, dirfd, e->d_name, plen, depth, &ent, &newlen);
      if (er < 0)
        {
          r = -1;
          break;
        }
      if (er > 0)
        continue;
      ent.parentfd = dirfd;
      ent.name = e->d_name;
      ent.path = w->path;
      ent.depth = depth;
      cr = w->fn (&ent, w->ctx, w->err);
      if (cr < 0)
        {
          r = -1;
          break;
        }
      if (cr == 0 && S_ISDIR (ent.st.st_mode))
        {
          cleanup_close int sub = openat (
              dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0)
            {
              r = sq_err_set (w->err, errno, "open directory '%s'", w->path);
              break;
            }
          if (walk_dir (w, sub, newlen, depth + 1) < 0)
            {
              r = -1;
              break;
            }
        }
    }
  closedir (d);
  return r;
}

int
sq_tree_walk (int rootfd, const struct sq_tree_limits *lim, sq_tree_fn fn, void *ctx,
              struct sq_tree_stats *stats, sq_err *err)
{
  struct walk w = { .lim = lim, .fn = fn, .ctx = ctx, .stats = stats, .err = err };

  memset (stats, 0, sizeof *stats);
  w.path[0] = '\0';
  return walk_dir (&w, rootfd, 0, 1);
}

/* Copy state: a stack of open destination directories, one per depth. */
struct copy
{
  unsigned flags;
  uid_t uid;
  gid_t gid;
  int dst[PATH_MAX / 2];
  unsigned ndst;
  struct sq_tree_stats *stats;
};

static int
copy_file (int srcdir, const char *name, const struct stat *st, int dstdir,
           const char *path, struct copy *c, sq_err *err)
{
  cleanup_close int in = -1, out = -1;
  struct stat ist;
  char buf[65536];
  ssize_t n;

  in = openat (srcdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (in < 0)
    return sq_err_set (err, errno, "open '%s'", path);
  /* The entry must still be the regular file that was stat'ed. */
  if (fstat (in, &ist) < 0 || !S_ISREG (ist.st_mode) || ist.st_ino != st->st_ino
      || ist.st_dev != st->st_dev)
    return sq_err_set (err, 0, "'%s' changed while it was copied", path);
  out = openat (dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                st->st_mode & 0777);
  if (out < 0)
    return sq_err_set (err, errno, "create '%s'", path);
  while ((n = read (in, buf, sizeof buf)) != 0)
    {
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return sq_err_set (err, errno, "read '%s'", path);
        }
      if (sq_write_all (out, buf, n) < 0)
        return sq_err_set (err, errno, "write '%s'", path);
    }
  if ((c->flags & SQ_COPY_CHOWN) && fchown (out, c->uid, c->gid) < 0)
    return sq_err_set (err, errno, "chown '%s'", path);
  /* umask may have narrowed the mode at create time. */
  if (fchmod (out, st->st_mode & 0777) < 0)
    return sq_err_set (err, errno, "chmod '%s'", path);
  return 0;
}

static int
copy_one (const struct sq_tree_entry *e, void *ctx, sq_err *err)
{
  struct copy *c = ctx;
  int dstdir;

  while (c->ndst > e->depth)
    close (c->dst[--c->ndst]);
  dstdir = c->dst[c->ndst - 1];
  if (!sq_tree_name_ok (e->name))
    {
      if (c->flags & SQ_COPY_SKIP_BAD_NAMES)
        {
          c->stats->skipped++;
          return 1;
        }
      return sq_err_set (err, 0, "entry '%s' has a name with control characters",
                         e->path);
    }
  if (S_ISDIR (e->st.st_mode))
    {
      int fd;
      if (mkdirat (dstdir, e->name, 0700) < 0 && errno != EEXIST)
        return sq_err_set (err, errno, "create directory '%s'", e->path);
      fd = openat (dstdir, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return sq_err_set (err, errno, "open directory '%s'", e->path);
      if (((c->flags & SQ_COPY_CHOWN) && fchown (fd, c->uid, c->gid) < 0)
          || fchmod (fd, (e->st.st_mode & 0777) | 0700) < 0)
        {
          close (fd);
          return sq_err_set (err, errno, "set owner of '%s'", e->path);
        }
      if (c->ndst >= SQ_ARRAY_SIZE (c->dst))
        {
          close (fd);
          return sq_err_set (err, 0, "'%s' is nested too deep", e->path);
        }
      c->dst[c->ndst++] = fd;
      return 0;
    }
  if (S_ISREG (e->st.st_mode))
    return copy_file (e->parentfd, e->name, &e->st, dstdir, e->path, c, err);
  if (S_ISLNK (e->st.st_mode) && (c->flags & SQ_COPY_SYMLINKS))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (e->parentfd, e->name, target, sizeof target - 1);
      if (n < 0)
        return sq_err_set (err, errno, "read link '%s'", e->path);
      target[n] = '\0';
      if (symlinkat (target, dstdir, e->name) < 0)
        return sq_err_set (err, errno, "create link '%s'", e->path);
      if ((c->flags & SQ_COPY_CHOWN)
          && fchownat (dstdir, e->name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return sq_err_set (err, errno, "chown link '%s'", e->path);
      return 1;
    }
  c->stats->skipped++;
  return 1;
}

int
sq_tree_copy (int srcfd, int dstfd, const struct sq_tree_limits *lim, unsigned flags,
              uid_t uid, gid_t gid, struct sq_tree_stats *stats, sq_err *err)
{
  struct copy *c = calloc (1, sizeof *c);
  int r;

  if (!c)
    return sq_err_set (err, ENOMEM, "copy");
  c->flags = flags;
  c->uid = uid;
  c->gid = gid;
  c->stats = stats;
  c->dst[0] = dup (dstfd);
  c->ndst = 1;
  if (c->dst[0] < 0)
    {
      free (c);
      return sq_err_set (err, errno, "dup");
    }
  r = sq_tree_walk (srcfd, lim, copy_one, c, stats, err);
  while (c->ndst > 0)
    close (c->dst[--c->ndst]);
  free (c);
  return r;
}
