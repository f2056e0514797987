/* Sealed results with libsodium's crypto_box_seal (see seal.h). */
#define _GNU_SOURCE
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

static int
init (sq_err *err)
{
  /* Idempotent and thread-safe; -1 only if no randomness is to be had. */
  if (sodium_init () < 0)
    return sq_err_set (err, 0, "libsodium cannot start (no source of randomness)");
  return 0;
}

int
sq_seal_read_key (const char *path, unsigned char key[SQ_SEAL_KEY_BYTES], sq_err *err)
{
  cleanup_free char *s = sq_read_file_at (AT_FDCWD, path, 4096, NULL, err);
  char what[600];
  if (!s)
    return -1;
  s[strcspn (s, "\r\n")] = '\0';
  snprintf (what, sizeof what, "key file '%.500s'", path);
  int r = sq_seal_parse_key (s, key, what, err);
  sodium_memzero (s, strlen (s));
  return r;
}

int
sq_seal_keygen (unsigned char pk[SQ_SEAL_KEY_BYTES], unsigned char sk[SQ_SEAL_KEY_BYTES],
                sq_err *err)
{
  if (init (err) < 0)
    return -1;
  return crypto_box_keypair (pk, sk) == 0
             ? 0
             : sq_err_set (err, 0, "crypto_box_keypair failed");
}

void *
sq_seal (const void *msg, size_t len, const unsigned char pk[SQ_SEAL_KEY_BYTES],
         size_t *outlen, sq_err *err)
{
  if (init (err) < 0)
    return NULL;
  unsigned char *out = malloc (SQ_SEAL_MAGIC_LEN + crypto_box_SEALBYTES + len);
  if (!out)
    {
      sq_err_set (err, ENOMEM, "seal the result (%zu bytes)", len);
      return NULL;
    }
  memcpy (out, SQ_SEAL_MAGIC, SQ_SEAL_MAGIC_LEN);
  if (crypto_box_seal (out + SQ_SEAL_MAGIC_LEN, msg, len, pk) != 0)
    {
      free (out);
      sq_err_set (err, 0,
                  "seal the result: the spec's seal_to is not a usable public key");
      return NULL;
    }
  *outlen = SQ_SEAL_MAGIC_LEN + crypto_box_SEALBYTES + len;
  return out;
}

void *
sq_unseal (const void *data, size_t len, const unsigned char sk[SQ_SEAL_KEY_BYTES],
           size_t *outlen, sq_err *err)
{
  unsigned char pk[SQ_SEAL_KEY_BYTES];
  if (init (err) < 0)
    return NULL;
  if (!sq_is_sealed (data, len) || len < SQ_SEAL_MAGIC_LEN + crypto_box_SEALBYTES)
    {
      sq_err_set (err, 0, "not a sealed result");
      return NULL;
    }
  size_t n = len - SQ_SEAL_MAGIC_LEN - crypto_box_SEALBYTES;
  unsigned char *out = malloc (n ? n : 1);
  if (!out)
    {
      sq_err_set (err, ENOMEM, "open the sealed result (%zu bytes)", n);
      return NULL;
    }
  crypto_scalarmult_base (pk, sk);
  if (crypto_box_seal_open (out, (const unsigned char *) data + SQ_SEAL_MAGIC_LEN,
                            len - SQ_SEAL_MAGIC_LEN, pk, sk)
      != 0)
    {
      free (out);
      sq_err_set (err, 0,
                  "the result is sealed to another key, or was altered: this secret key "
                  "does not open it");
      return NULL;
    }
  *outlen = n;
  return out;
}
