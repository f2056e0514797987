/* Results sealed to a submitter's key: sandq keygen, and reading a result
 * archive from Redis, opened with the secret key when it is sealed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/seal.h"
#include "../common/util.h"
#include "cli.h"

redisReply *
cli_result_get (struct cli *c, const char *queue, const char *id, sq_err *err)
{
  unsigned char sk[SQ_SEAL_KEY_BYTES];
  redisReply *rep = sq_result_get (&c->r, queue, id, err);
  if (!rep || rep->type != REDIS_REPLY_STRING || !sq_is_sealed (rep->str, rep->len))
    return rep;
  if (!c->key_path)
    {
      freeReplyObject (rep);
      c->sealed = 1;
      sq_err_set (err, 0,
                  "job '%s': its result is sealed to its submitter's key; give the "
                  "secret key with --key FILE or SANDQ_KEY (see sandq keygen --help)",
                  id);
      return NULL;
    }
  size_t n = 0;
  void *plain = sq_seal_read_key (c->key_path, sk, err) < 0
                    ? NULL
                    : sq_unseal (rep->str, rep->len, sk, &n, err);
  memset (sk, 0, sizeof sk);
  if (!plain)
    {
      freeReplyObject (rep);
      c->sealed = 1;
      sq_err_wrap (err, "job '%s': key '%s'", id, c->key_path);
      return NULL;
    }
  /* hiredis frees a string reply's str with free(). */
  free (rep->str);
  rep->str = plain;
  rep->len = n;
  return rep;
}

/* Writes text to path, created with mode (never over an existing file). */
static void
write_new (const char *path, const char *text, mode_t mode)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    cli_die (errno == EEXIST ? SQ_EXIT_USAGE : SQ_EXIT_FAILURE, "keygen: '%s': %s%s",
             path, strerror (errno),
             errno == EEXIST ? "; keygen never overwrites a key: pick another name" : "");
  size_t n = strlen (text);
  if (write (fd, text, n) != (ssize_t) n || close (fd) < 0)
    cli_die (SQ_EXIT_FAILURE, "keygen: write '%s': %s", path, strerror (errno));
}

int
cmd_keygen (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq keygen [--json] FILE\n\n"
        "Makes a key pair for sealed results: the secret key in FILE (mode 0600)\n"
        "and the public key in FILE.pub. 'sandq submit --seal-to FILE.pub' has the\n"
        "worker encrypt the job's result to it (libsodium's sealed boxes), so that\n"
        "no one with access to Redis reads it; 'sandq result --key FILE' and\n"
        "'sandq logs --key FILE' open it. Keep FILE secret: without it the result\n"
        "cannot be read by anyone. Never overwrites a file. Talks to no Redis.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { 0, 0, 0, 0 },
  };
  unsigned char pk[SQ_SEAL_KEY_BYTES], sk[SQ_SEAL_KEY_BYTES];
  char hex[65], line[80], pub[4096];
  sq_err err = { 0 };

  int first = cli_getopt (c, argc, argv, opts, help, NULL, NULL);
  if (first != argc - 1)
    cli_die (SQ_EXIT_USAGE, "keygen: needs exactly one FILE, for the secret key");
  const char *path = argv[first];
  if (snprintf (pub, sizeof pub, "%s.pub", path) >= (int) sizeof pub)
    cli_die (SQ_EXIT_USAGE, "keygen: '%.80s...': name too long", path);
  if (sq_seal_keygen (pk, sk, &err) < 0)
    cli_die (SQ_EXIT_FAILURE, "keygen: %s", err.msg);
  /* The public key first: a failure leaves no secret key without it. */
  sq_seal_key_hex (pk, hex);
  snprintf (line, sizeof line, "%s\n", hex);
  write_new (pub, line, 0644);
  sq_seal_key_hex (sk, hex);
  snprintf (line, sizeof line, "%s\n", hex);
  write_new (path, line, 0600);
  memset (sk, 0, sizeof sk);
  memset (line, 0, sizeof line);
  sq_seal_key_hex (pk, hex);
  if (c->json)
    {
      json_t *o = json_pack ("{s:s, s:s, s:s}", "secret_key_file", path,
                             "public_key_file", pub, "public_key", hex);
      char *s = json_dumps (o, JSON_COMPACT);
      printf ("%s\n", s);
      free (s);
      json_decref (o);
    }
  else
    printf ("secret key: %s (keep it)\npublic key: %s (%s)\n", path, pub, hex);
  return SQ_EXIT_OK;
}
