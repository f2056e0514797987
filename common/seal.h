/* Results sealed to their submitter: libsodium's sealed boxes (X25519,
 * XSalsa20-Poly1305, an ephemeral sender key). The worker seals with the
 * public key a spec names; only the holder of the secret key opens it, so
 * no one with Redis access (an operator, Redis's administrator, its
 * backups) reads a sealed result.
 *
 * Keys are files of 64 hex digits on the first line: the secret key
 * (sandq keygen FILE, mode 0600) and its public key (FILE.pub). A sealed
 * result is SQ_SEAL_MAGIC followed by the box. */
#ifndef SQ_SEAL_H
#define SQ_SEAL_H

#include <stddef.h>
#include <string.h>

#include "err.h"

#define SQ_SEAL_MAGIC "sandq-sealed-1\n"
#define SQ_SEAL_MAGIC_LEN 15
#define SQ_SEAL_KEY_BYTES 32

/* 1 if data is a sealed result. (Inline, as the next two: the spec
 * parser uses them without libsodium.) */
static inline int
sq_is_sealed (const void *data, size_t len)
{
  return len >= SQ_SEAL_MAGIC_LEN && memcmp (data, SQ_SEAL_MAGIC, SQ_SEAL_MAGIC_LEN) == 0;
}

/* Parses 64 hex digits into a key. what names the input in err. */
static inline int
sq_seal_parse_key (const char *hex, unsigned char key[SQ_SEAL_KEY_BYTES],
                   const char *what, sq_err *err)
{
  static const char digits[] = "0123456789abcdef";
  size_t n = strlen (hex);
  if (n != 2 * SQ_SEAL_KEY_BYTES || strspn (hex, "0123456789abcdefABCDEF") != n)
    return sq_err_set (err, 0, "%s: must be %d hex digits (a key of sandq keygen)", what,
                       2 * SQ_SEAL_KEY_BYTES);
  for (int i = 0; i < 2 * SQ_SEAL_KEY_BYTES; i++)
    {
      int d = (int) (strchr (digits, hex[i] | 0x20) - digits);
      key[i / 2] = (unsigned char) (i % 2 ? key[i / 2] | d : d << 4);
    }
  return 0;
}

/* key in hex (65 bytes with the NUL). */
static inline void
sq_seal_key_hex (const unsigned char key[SQ_SEAL_KEY_BYTES], char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < SQ_SEAL_KEY_BYTES; i++)
    {
      hex[2 * i] = digits[key[i] >> 4];
      hex[2 * i + 1] = digits[key[i] & 15];
    }
  hex[64] = '\0';
}

/* Reads a key file (its first line, 64 hex digits). */
int sq_seal_read_key (const char *path, unsigned char key[SQ_SEAL_KEY_BYTES],
                      sq_err *err);

/* A new key pair. */
int sq_seal_keygen (unsigned char pk[SQ_SEAL_KEY_BYTES],
                    unsigned char sk[SQ_SEAL_KEY_BYTES], sq_err *err);

/* msg sealed to pk: malloc'ed, *outlen bytes (magic included). */
void *sq_seal (const void *msg, size_t len, const unsigned char pk[SQ_SEAL_KEY_BYTES],
               size_t *outlen, sq_err *err);

/* Opens a sealed result with the secret key sk: malloc'ed plaintext. NULL
 * with err if it is not a sealed result or not sealed to this key. */
void *sq_unseal (const void *data, size_t len, const unsigned char sk[SQ_SEAL_KEY_BYTES],
                 size_t *outlen, sq_err *err);

#endif
