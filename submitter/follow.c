/* Following a job: its live output, its state until final, and its
 * result archive, extracted safely into a directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/status.h"
#include "../common/util.h"
#include "cli.h"

int
cli_live_step (struct cli *c, const char *queue, const char *id, char *last,
               size_t lastlen, uint64_t printed[2], FILE *o, FILE *e, int block_ms)
{
  sq_err err = { 0 };
  redisReply *rep = sq_live_read (&c->r, queue, id, last, block_ms, &err);
  int n = 0;

  if (!rep)
    return -1;
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1
      && rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
    {
      redisReply *entries = rep->element[0]->element[1];
      for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++)
        {
          redisReply *en = entries->element[i];
          if (en->type != REDIS_REPLY_ARRAY || en->elements != 2
              || en->element[0]->type != REDIS_REPLY_STRING)
            continue;
          snprintf (last, lastlen, "%s", en->element[0]->str);
          n++;
          redisReply *f = en->element[1];
          const char *which = NULL, *data = NULL;
          size_t dlen = 0;
          uint64_t off = 0;
          for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            {
              const char *name = f->element[k]->str;
              redisReply *v = f->element[k + 1];
              if (!name || v->type != REDIS_REPLY_STRING)
                continue;
              if (strcmp (name, "s") == 0)
                which = v->str;
              else if (strcmp (name, "off") == 0)
                off = strtoull (v->str, NULL, 10);
              else if (strcmp (name, "d") == 0)
                {
                  data = v->str;
                  dlen = v->len;
                }
            }
          if (!which || (which[0] != 'o' && which[0] != 'e') || !data)
            continue;
          int k = which[0] == 'e';
          /* Only what was not printed yet, whatever pieces came before. */
          if (off + dlen > printed[k] && off <= printed[k])
            {
              size_t skip = (size_t) (printed[k] - off);
              FILE *to = k ? e : o;
              if (fwrite (data + skip, 1, dlen - skip, to) != dlen - skip)
                break;
              fflush (to);
              printed[k] = off + dlen;
            }
        }
    }
  freeReplyObject (rep);
  return n;
}

json_t *
cli_follow (struct cli *c, const char *queue, const char *id, FILE *o, FILE *e, int *code)
{
  char last[64] = "0-0";
  uint64_t printed[2] = { 0, 0 };
  sq_err err = { 0 };

  for (;;)
    {
      json_t *job = cli_job_json (c, queue, id);
      if (!job)
        {
          *code = SQ_EXIT_NOT_FOUND;
          fprintf (stderr, "sandq: " CLI_NO_JOB "\n", id, queue);
          return NULL;
        }
      const char *state = json_string_value (json_object_get (job, "state"));
      int final = state && strcmp (state, "final") == 0;
      int n = cli_live_step (c, queue, id, last, sizeof last, printed, o, e,
                             final ? 0 : 1000);
      if (n < 0)
        {
          sq_redis_backoff (2);
          if (sq_redis_connect (&c->r, &err) < 0)
            fprintf (stderr, "sandq: %s; retrying\n", err.msg);
        }
      if (final && n == 0)
        {
          /* The rest, which the live stream did not carry, from the result. */
          redisReply *rep = cli_result_get (c, queue, id, &err);
          for (int k = 0; rep && rep->type == REDIS_REPLY_STRING && k < 2; k++)
            {
              size_t len = 0;
              sq_err e2 = { 0 };
              char *data = sq_archive_read_member (
                  rep->str, rep->len, k ? "stderr" : "stdout", 1ULL << 30, &len, &e2);
              if (data && len > printed[k])
                {
                  fwrite (data + printed[k], 1, len - printed[k], k ? e : o);
                  fflush (k ? e : o);
                }
              free (data);
            }
          if (rep)
            freeReplyObject (rep);
          else if (c->sealed) /* no key, or not the key that opens it */
            fprintf (stderr, "sandq: %s\n", err.msg);
          *code = cli_status_code (job);
          return job;
        }
      json_decref (job);
    }
}

json_t *
cli_wait (struct cli *c, const char *queue, const char *id, uint64_t timeout_ms,
          int quiet, int *code)
{
  char last_live[64] = "0-0";
  uint64_t printed[2] = { 0, 0 };
  char last[32] = "";
  uint64_t deadline = timeout_ms ? sq_now_ms () + timeout_ms : 0;
  int tty = isatty (STDERR_FILENO) && !quiet;
  sq_err err = { 0 };

  for (;;)
    {
      json_t *job = cli_job_json (c, queue, id);
      const char *state;
      if (!job)
        {
          *code = SQ_EXIT_NOT_FOUND;
          fprintf (stderr, "sandq: " CLI_NO_JOB "\n", id, queue);
          return NULL;
        }
      state = json_string_value (json_object_get (job, "state"));
      if (state && strcmp (state, last) != 0)
        {
          if (tty)
            fprintf (stderr, "sandq: %s: %s\n", id, state);
          snprintf (last, sizeof last, "%s", state);
        }
      if (state && strcmp (state, "final") == 0)
        {
          *code = cli_status_code (job);
          return job;
        }
      int running = state && strcmp (state, "running") == 0;
      json_decref (job);
      if (deadline && sq_now_ms () >= deadline)
        {
          *code = SQ_EXIT_TIMEOUT;
          fprintf (stderr, "sandq: %s is still %s after the timeout\n", id, last);
          return NULL;
        }
      /* On a terminal, the job's output as it comes (to stderr: stdout
       * is for the final record). */
      if (tty && running)
        {
          if (cli_live_step (c, queue, id, last_live, sizeof last_live, printed, stderr,
                             stderr, 1000)
              >= 0)
            continue;
        }
      /* Woken by the job's own event list; the timeout bounds the wait if
       * an event was missed (another waiter took it). */
      if (sq_job_event_wait (&c->r, queue, id, 1, &err) < 0)
        {
          sq_redis_backoff (2);
          if (sq_redis_connect (&c->r, &err) < 0)
            fprintf (stderr, "sandq: %s; retrying\n", err.msg);
        }
    }
}

int
cli_check_result_dir (const char *dir, char *msg, size_t len)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  int empty = 1;

  if (!d)
    {
      if (errno == ENOENT)
        return 0;
      snprintf (msg, len, "--result-dir '%s': %s", dir, strerror (errno));
      return -1;
    }
  while ((e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      empty = 0;
  closedir (d);
  if (empty)
    return 0;
  snprintf (msg, len,
            "--result-dir '%s' is not empty (an earlier result?); remove it or give a "
            "new directory",
            dir);
  return -1;
}

/* Removes everything in the directory dfd (what sq_unpack made there:
 * directories and regular files, never a link), depth first. */
static void
empty_dir (int dfd, unsigned depth)
{
  int fd = depth > 80 ? -1 : openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  struct dirent *e;

  if (!d)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((e = readdir (d)))
    {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (unlinkat (fd, e->d_name, 0) == 0 || errno != EISDIR)
        continue;
      int sub = openat (fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0)
        {
          fchmod (sub, 0700);
          empty_dir (sub, depth + 1);
          close (sub);
        }
      unlinkat (fd, e->d_name, AT_REMOVEDIR);
    }
  closedir (d);
}

int
cli_fetch_result (struct cli *c, const char *queue, const char *id, const char *dir,
                  int *code)
{
  char msg[PATH_MAX + 128];
  if (cli_check_result_dir (dir, msg, sizeof msg) < 0)
    {
      *code = SQ_EXIT_USAGE;
      fprintf (stderr, "sandq: %s\n", msg);
      return -1;
    }
  sq_err err = { 0 };
  redisReply *rep;
  struct sq_unpack_limits lim;
  struct sq_tree_stats st;
  cleanup_close int dfd = -1;

  rep = cli_result_get (c, queue, id, &err);
  if (!rep)
    {
      *code = cli_failed (err.msg);
      return -1;
    }
  if (rep->type != REDIS_REPLY_STRING)
    {
      freeReplyObject (rep);
      *code = SQ_EXIT_NOT_FOUND;
      fprintf (stderr,
               "sandq: job '%s' has no result archive (not finished, "
               "rejected, or expired)\n",
               id);
      return -1;
    }
  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    {
      freeReplyObject (rep);
      *code = SQ_EXIT_USAGE;
      fprintf (stderr, "sandq: --result-dir '%s': %s\n", dir, strerror (errno));
      return -1;
    }
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    {
      freeReplyObject (rep);
      *code = SQ_EXIT_USAGE;
      fprintf (stderr, "sandq: --result-dir '%s': %s\n", dir, strerror (errno));
      return -1;
    }
  /* The archive came out of a hostile sandbox: same rules as inputs, and
   * no links at all. The caps are those the worker packs under
   * (worker/archiver.c: out/ up to 2^20 entries, 64 levels, 4095-byte
   * paths, below out/), so that whatever a worker sends back extracts:
   * a job's choice of many small files is not the client's failure. No
   * ratio cap: the worker's result cap bounds what the job wrote (a
   * megabyte of zeros packs to a kilobyte), and the byte cap still holds. */
  sq_unpack_limits_default (&lim);
  lim.max_bytes = 4ULL << 30;
  lim.max_entries = (1ULL << 20) + 16;
  lim.max_depth = 64 + 1;
  lim.max_path = 4095 + 8;
  lim.max_ratio = 0;
  if (sq_unpack (rep->str, rep->len, dfd, &lim, SQ_UNPACK_NO_LINKS, &st, &err) < 0)
    {
      freeReplyObject (rep);
      *code = SQ_EXIT_FAILURE;
      /* Half a result is worse than none: the directory was empty. */
      empty_dir (dfd, 0);
      if (err.code == ENOSPC || err.code == EDQUOT)
        fprintf (stderr,
                 "sandq: result of %s: %s; nothing was kept in '%s', and the result "
                 "stays in Redis until it expires: make room and run sandq result "
                 "again\n",
                 id, err.msg, dir);
      else
        fprintf (stderr, "sandq: result of %s: %s; nothing was kept in '%s'\n", id,
                 err.msg, dir);
      return -1;
    }
  freeReplyObject (rep);
  return 0;
}
