/* A job's inputs, as the CLI makes them: the input archive from PATHs,
 * earlier jobs' results chained in, and the job's id. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/spec.h"
#include "../common/util.h"
#include "cli.h"

int
cli_chain_input (struct cli *c, struct sq_spec *spec, const char *queue, const char *arg,
                 uint64_t ttl_ms, sq_err *err)
{
  char id[SQ_ID_MAX + 1], other[SQ_QUEUE_MAX + 1];
  const char *path = "";
  size_t n = strlen (arg);
  int found = 0;

  /* ID, or ID:PATH: an id may hold ':' itself, so the longest prefix that
   * names a job is the id. */
  for (;;)
    {
      if (n && n <= SQ_ID_MAX)
        {
          memcpy (id, arg, n);
          id[n] = '\0';
          found = sq_valid_name (id, SQ_ID_MAX)
                      ? sq_index_get (&c->r, id, other, sizeof other, err)
                      : 0;
          /* A submitter role may not read the id index: the job must be
           * in this queue anyway. */
          if (found < 0 && sq_redis_take_denied (&c->r))
            {
              snprintf (other, sizeof other, "%s", queue);
              found = sq_job_exists (&c->r, queue, id, err);
            }
          if (found < 0)
            return -1;
          if (found)
            {
              path = arg[n] == ':' ? arg + n + 1 : "";
              break;
            }
        }
      const char *colon = n ? memrchr (arg, ':', n) : NULL;
      if (!colon)
        break;
      n = (size_t) (colon - arg);
    }
  if (!found)
    {
      sq_err_set (err, 0, "no job '%.128s' (ID or ID:PATH; it may have expired)", arg);
      return -4;
    }
  if (strcmp (other, queue) != 0)
    {
      sq_err_set (err, 0,
                  "job '%s' is in queue '%s': chained inputs come from the same "
                  "queue ('%s')",
                  id, other, queue);
      return -2;
    }
  if (sq_spec_add_input (spec, id, strlen (id), path, err) < 0)
    return -2;
  /* The earlier result must outlive this job's wait in the queue. */
  int exists = sq_result_hold (&c->r, queue, id, ttl_ms / 1000 + 86400, err);
  if (exists < 0)
    return -1;
  if (!exists)
    {
      sq_err_set (err, 0,
                  "job '%s' has no result yet (not finished, rejected, or "
                  "expired)",
                  id);
      return -2;
    }
  return 0;
}

/* A time-ordered, unguessable id: 48 bits of milliseconds and 80 random
 * bits in Crockford's base32 (like a ULID). */
void
cli_new_id (char *out)
{
  static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
  unsigned char raw[16];
  uint64_t ms = sq_wall_ms ();
  for (int i = 0; i < 6; i++)
    raw[i] = (unsigned char) (ms >> (40 - 8 * i));
  if (getrandom (raw + 6, 10, 0) != 10)
    cli_die (SQ_EXIT_FAILURE, "getrandom: %s", strerror (errno));
  /* 128 bits -> 26 characters of 5 bits (the first carries 3). */
  unsigned bitpos = 0;
  for (int i = 0; i < 26; i++)
    {
      unsigned v = 0;
      for (int b = 0; b < 5; b++)
        {
          int bit = (i == 0 && b < 2) ? 0 : 1;
          if (bit)
            {
              v = (v << 1) | ((raw[bitpos / 8] >> (7 - bitpos % 8)) & 1);
              bitpos++;
            }
          else
            v <<= 1;
        }
      out[i] = b32[v];
    }
  out[26] = '\0';
}

static int
ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

static void
pack_progress (uint64_t done, void *ctx)
{
  cli_progress_update (ctx, done);
}

/* The bytes of the regular files under the PATHs, as the packer reads
 * them (links not followed): the packing phase's 100%. */
static uint64_t input_total;

static int
add_size (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void) path;
  (void) ftw;
  if (type == FTW_F && S_ISREG (st->st_mode))
    input_total += st->st_size;
  return 0;
}

/* Builds the input: one .tar/.tar.gz as is, else a tar.gz of the PATHs. */
void *
cli_pack_inputs (char **paths, int n, uint64_t max, size_t *len, int tty)
{
  struct cli_progress pr;
  sq_err err = { 0 };
  void *buf = NULL;
  char lim[32];

  sq_format_size (max, lim, sizeof lim);
  if (n == 1
      && (ends_with (paths[0], ".tar") || ends_with (paths[0], ".tar.gz")
          || ends_with (paths[0], ".tgz")))
    {
      struct stat st;
      if (stat (paths[0], &st) < 0)
        cli_die (SQ_EXIT_USAGE, "input '%s': %s", paths[0], strerror (errno));
      if ((uint64_t) st.st_size > max)
        {
          char got[32];
          sq_format_size (st.st_size, got, sizeof got);
          cli_die (SQ_EXIT_USAGE,
                   "input '%s': %s, more than the limit of %s; raise it "
                   "with --max-input (at most 1G)",
                   paths[0], got, lim);
        }
      buf = sq_read_file_at (AT_FDCWD, paths[0], max, len, &err);
      if (!buf)
        cli_die (SQ_EXIT_USAGE, "input %s", err.msg);
      return buf;
    }
  struct sq_packer *p = sq_packer_new (max, &err);
  if (!p)
    cli_die (SQ_EXIT_FAILURE, "%s", err.msg);
  if (tty)
    {
      input_total = 0;
      for (int i = 0; i < n; i++)
        nftw (paths[i], add_size, 16, FTW_PHYS);
      /* Small inputs pack in a blink: no line for them. */
      cli_progress_start (&pr, "packing", input_total, input_total >= (1 << 20));
      sq_packer_set_progress (p, pack_progress, &pr);
    }
  for (int i = 0; i < n; i++)
    {
      char copy[4096], *base;
      snprintf (copy, sizeof copy, "%s", paths[i]);
      while (strlen (copy) > 1 && copy[strlen (copy) - 1] == '/')
        copy[strlen (copy) - 1] = '\0';
      base = strrchr (copy, '/') ? strrchr (copy, '/') + 1 : copy;
      if (!*base || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
        cli_die (SQ_EXIT_USAGE,
                 "input '%s': not a file or a named directory; give a file or a "
                 "directory by name",
                 paths[i]);
      if (sq_packer_add_path (p, paths[i], base, &err) < 0)
        {
          sq_packer_free (p);
          if (err.code == EFBIG)
            cli_die (SQ_EXIT_USAGE,
                     "input: %s; raise the limit with --max-input (at most 1G)", err.msg);
          cli_die (SQ_EXIT_USAGE, "input %s", err.msg);
        }
    }
  if (tty)
    cli_progress_end (&pr);
  if (sq_packer_finish (p, &buf, len, &err) < 0)
    cli_die (SQ_EXIT_USAGE, "input: %s", err.msg);
  return buf;
}
