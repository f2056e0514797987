#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "util.h"

#define DEFAULT_PATH "/etc/sandq/sandq.conf"

static char *
trim (char *s)
{
  char *e;
  while (*s == ' ' || *s == '\t')
    s++;
  e = s + strlen (s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

int
sq_config_load (struct sq_config *c, const char *path, sq_err *err)
{
  const char *p = path ? path : getenv ("SANDQ_CONFIG");
  cleanup_fclose FILE *f = NULL;
  char line[2048];
  int lineno = 0;

  memset (c, 0, sizeof *c);
  if (!p)
    p = DEFAULT_PATH;
  snprintf (c->path, sizeof c->path, "%s", p);
  f = fopen (p, "re");
  if (!f)
    {
      if (errno == ENOENT && !path && !getenv ("SANDQ_CONFIG"))
        return 0;
      return sq_err_set (err, errno, "config file '%s'", p);
    }
  while (fgets (line, sizeof line, f))
    {
      char *s = trim (line), *eq;
      struct sq_config_entry *ne;
      lineno++;
      if (!*s || *s == '#')
        continue;
      eq = strchr (s, '=');
      if (!eq)
        {
          sq_err_set (err, 0,
                      "config file '%s' line %d: not 'key = value'; see sandq.conf(5)", p,
                      lineno);
          sq_config_free (c);
          return -1;
        }
      *eq = '\0';
      ne = realloc (c->e, (c->n + 1) * sizeof *ne);
      if (!ne)
        {
          sq_config_free (c);
          return sq_err_set (err, ENOMEM, "config");
        }
      c->e = ne;
      snprintf (c->e[c->n].key, sizeof c->e[0].key, "%s", trim (s));
      snprintf (c->e[c->n].value, sizeof c->e[0].value, "%s", trim (eq + 1));
      c->e[c->n].line = lineno;
      c->n++;
    }
  return 0;
}

const char *
sq_config_get (const struct sq_config *c, const char *key)
{
  for (int i = c->n - 1; i >= 0; i--)
    if (strcmp (c->e[i].key, key) == 0)
      return c->e[i].value;
  return NULL;
}

void
sq_config_free (struct sq_config *c)
{
  free (c->e);
  c->e = NULL;
  c->n = 0;
}

const char *
sq_config_redis_url (const struct sq_config *c, const char *flag)
{
  const char *v;
  if (flag)
    return flag;
  if ((v = getenv ("SANDQ_REDIS_URL")) && *v)
    return v;
  if ((v = sq_config_get (c, "redis_url")))
    return v;
  return "redis://127.0.0.1:6379";
}

const char *
sq_config_redis_user (const struct sq_config *c)
{
  const char *v = getenv ("SANDQ_REDIS_USER");
  if (v && *v)
    return v;
  return sq_config_get (c, "redis_user");
}

int
sq_config_read_secret (const char *path, char *buf, size_t len, sq_err *err)
{
  cleanup_free char *s = sq_read_file_at (AT_FDCWD, path, 4096, NULL, err);
  if (!s)
    return sq_err_wrap (err, "read the Redis password file");
  snprintf (buf, len, "%s", trim (s));
  /* An empty file is a mistake (a credential not delivered, a file not
   * yet written), not "no password": say so now rather than as a refused
   * login later. */
  if (!buf[0])
    return sq_err_set (
        err, 0, "Redis password file '%s': empty; write the password on its first line",
        path);
  return 1;
}

int
sq_config_redis_password (const struct sq_config *c, char *buf, size_t len, sq_err *err)
{
  const char *f = sq_config_get (c, "redis_password_file");
  const char *cred = getenv ("CREDENTIALS_DIRECTORY");
  char path[1024];

  if (f)
    return sq_config_read_secret (f, buf, len, err);
  if (cred)
    {
      snprintf (path, sizeof path, "%s/redis-password", cred);
      if (access (path, R_OK) == 0)
        return sq_config_read_secret (path, buf, len, err);
    }
  /* Else redis-password beside the config file in use (by default
   * /etc/sandq/redis-password), if this user may read it. */
  const char *slash = strrchr (c->path, '/');
  if (slash)
    {
      snprintf (path, sizeof path, "%.*s/redis-password", (int) (slash - c->path),
                c->path);
      if (access (path, R_OK) == 0)
        return sq_config_read_secret (path, buf, len, err);
    }
  return 0;
}
