/* Tar archives in and out of sandq, with hostile-input caps: unpacking in
 * unpack.c, packing and reading members in archive.c.
 *
 * Unpacking never trusts the archive: each entry's path is checked
 * lexically (relative, no "..", no control characters, length and depth
 * caps), every file is created relative to its parent directory, opened
 * one component at a time with no symlink followed and no mount crossed
 * (O_NOFOLLOW, and the device checked), links are allowed only
 * when they stay inside, devices, FIFOs and sockets are rejected, and
 * setuid/setgid bits are dropped. Entry count, total bytes and the
 * expansion ratio (gzip bombs) are capped. The first bad entry stops the
 * unpack with a message that names it.
 */
#ifndef SQ_ARCHIVE_H
#define SQ_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tree.h"

struct sq_unpack_limits
{
  uint64_t max_entries;
  uint64_t max_bytes; /* uncompressed bytes of file data */
  unsigned max_depth;
  size_t max_path;
  uint64_t max_ratio; /* uncompressed / compressed, 0 = no cap */
  /* Only the entries at or under this path (normalized, e.g. "out" or
   * "out/plots"), unpacked without their first component ("out/plots/a"
   * becomes "plots/a"); the rest are skipped. NULL: everything. */
  const char *select;
};

void sq_unpack_limits_default (struct sq_unpack_limits *l);

/* Sets LC_CTYPE so that libarchive can carry UTF-8 names: the caller's
 * locale when from_env and it is not plain ASCII, else C.UTF-8. Call it
 * first thing, before any chroot (it loads the locale's files). */
void sq_archive_locale (int from_env);

enum sq_unpack_flags
{
  SQ_UNPACK_NO_LINKS = 1 << 0, /* reject symlinks and hard links outright */
};

/* Unpacks a tar (optionally gzip/xz/zstd compressed) held in memory into
 * the directory rootfd. */
int sq_unpack (const void *buf, size_t len, int rootfd,
               const struct sq_unpack_limits *lim, unsigned flags,
               struct sq_tree_stats *stats, sq_err *err);

/* A gzip'ed tar being built in memory. */
struct sq_packer;

/* max_bytes caps the compressed size; adding past it fails with EFBIG. */
struct sq_packer *sq_packer_new (uint64_t max_bytes, sq_err *err);

/* Adds an in-memory file at name. */
int sq_packer_add_mem (struct sq_packer *p, const char *name, const void *data,
                       size_t len, sq_err *err);

/* Adds a host file or directory tree (trusted side: the submitter's own
 * files) under name. Symlinks are stored as links. */
int sq_packer_add_path (struct sq_packer *p, const char *path, const char *name,
                        sq_err *err);

/* Adds a hostile tree (a job's out/) under prefix: regular files and
 * directories only, never following a link; other entries and bad names
 * are counted in stats->skipped. */
int sq_packer_add_tree (struct sq_packer *p, int dirfd, const char *prefix,
                        const struct sq_tree_limits *lim, struct sq_tree_stats *stats,
                        sq_err *err);

/* Calls fn with the bytes of host files read so far, after each chunk. */
void sq_packer_set_progress (struct sq_packer *p,
                             void (*fn) (uint64_t read_bytes, void *ctx), void *ctx);

/* Finishes the archive; *out is malloc'ed. The packer is freed. */
int sq_packer_finish (struct sq_packer *p, void **out, size_t *len, sq_err *err);

void sq_packer_free (struct sq_packer *p);

/* Reads one named regular file out of an archive in memory (for
 * "sandq logs"). Returns a malloc'ed buffer, or NULL if absent. */
void *sq_archive_read_member (const void *buf, size_t len, const char *name, size_t max,
                              size_t *outlen, sq_err *err);

/* Calls fn for each regular file of an archive in memory, in order, with
 * its data if it is at most max bytes (else data is NULL and only its
 * size is known); fn returns non-zero to stop. -1 and err if the archive
 * cannot be read. */
int sq_archive_each (const void *buf, size_t len, size_t max,
                     int (*fn) (const char *name, const void *data, uint64_t size,
                                void *ctx),
                     void *ctx, sq_err *err);

#endif
