/* sandq's configuration file: "key = value" lines, '#' comments.
 *
 * Looked up at $SANDQ_CONFIG, else /etc/sandq/sandq.conf. Command-line
 * options override it; SANDQ_REDIS_URL overrides its redis_url. Secrets
 * stay out of command lines: a password comes from redis_password_file,
 * or from the systemd credential "redis-password"
 * ($CREDENTIALS_DIRECTORY/redis-password), or from the URL in the file.
 */
#ifndef SQ_CONFIG_H
#define SQ_CONFIG_H

#include <stddef.h>

#include "err.h"

struct sq_config_entry
{
  char key[64];
  char value[1024];
  int line;
};

struct sq_config
{
  char path[512];
  struct sq_config_entry *e;
  int n;
};

/* Loads path, or the default location if path is NULL. A missing default
 * file is not an error (n = 0); a missing named file is. */
int sq_config_load (struct sq_config *c, const char *path, sq_err *err);

/* The value of key, or NULL. */
const char *sq_config_get (const struct sq_config *c, const char *key);

void sq_config_free (struct sq_config *c);

/* Resolves the Redis URL: flag > $SANDQ_REDIS_URL > config redis_url >
 * redis://127.0.0.1:6379. */
const char *sq_config_redis_url (const struct sq_config *c, const char *flag);

/* The Redis ACL user to log in as: $SANDQ_REDIS_USER, else redis_user in
 * the config, else NULL (the URL's, or Redis's default user). Its
 * password comes as below. */
const char *sq_config_redis_user (const struct sq_config *c);

/* Reads a password file as sandq logs in with it: its content with
 * surrounding whitespace trimmed; empty is an error (err.code 0; a read
 * failure keeps its errno). Returns 1, or -1 with err. */
int sq_config_read_secret (const char *path, char *buf, size_t len, sq_err *err);

/* Reads a password for the Redis connection from redis_password_file,
 * else the systemd credential redis-password, else the file
 * redis-password beside the config file (/etc/sandq/redis-password), the
 * first that exists and can be read. Returns 1 if found, 0 if not, -1 on
 * a read error. */
int sq_config_redis_password (const struct sq_config *c, char *buf, size_t len,
                              sq_err *err);

#endif
