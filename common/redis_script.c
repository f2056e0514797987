/* Lua scripts by SHA-1: EVALSHA, and SCRIPT LOAD when Redis does not
 * hold the script (after a restart, or SCRIPT FLUSH). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "redis.h"

int
sq_redis_load_script (sq_redis *r, const struct sq_script *s, sq_err *err)
{
  redisReply *rep = sq_redis_cmdf (r, err, "SCRIPT LOAD %s", s->source);
  if (!rep)
    {
      if (r->denied)
        sq_err_set (err, 0,
                    "Redis at %s does not hold sandq's script '%s', and user '%s' may "
                    "not load it (SCRIPT LOAD); a worker loads them whenever it "
                    "connects: start one, or ask an operator",
                    r->where, s->name, r->addr.user[0] ? r->addr.user : "default");
      return -1;
    }
  int ok = rep->type == REDIS_REPLY_STRING && rep->len == 40
           && memcmp (rep->str, s->sha, 40) == 0;
  if (!ok)
    sq_err_set (err, 0, "load script %s: %s", s->name,
                rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected SHA-1");
  freeReplyObject (rep);
  return ok ? 0 : -1;
}

redisReply *
sq_redis_eval (sq_redis *r, struct sq_script *s, int nkeys, const char **keys, int nargs,
               const char **args, const size_t *arglens, sq_err *err)
{
  int argc = 3 + nkeys + nargs;
  const char *argv[256];
  size_t lens[256];
  char nk[16];
  redisReply *rep;

  if (argc > 256)
    {
      sq_err_set (err, E2BIG, "script %s: too many arguments", s->name);
      return NULL;
    }
  snprintf (nk, sizeof nk, "%d", nkeys);
  argv[0] = "EVALSHA";
  lens[0] = 7;
  argv[1] = s->sha;
  lens[1] = 40;
  argv[2] = nk;
  lens[2] = strlen (nk);
  for (int i = 0; i < nkeys; i++)
    {
      argv[3 + i] = keys[i];
      lens[3 + i] = strlen (keys[i]);
    }
  for (int i = 0; i < nargs; i++)
    {
      argv[3 + nkeys + i] = args[i];
      lens[3 + nkeys + i] = arglens ? arglens[i] : strlen (args[i]);
    }
  for (int attempt = 0; attempt < 2; attempt++)
    {
      rep = sq_redis_cmd (r, err, argc, argv, lens);
      /* Redis refuses a script's first write when its used memory is
       * over maxmemory, and only a first write (a script cannot stop
       * halfway): so nothing of it was stored. */
      if (!rep && r->full)
        sq_redis_full_err (r, err, "stored nothing of script %s", s->name);
      if (!rep)
        return NULL;
      if (rep->type == REDIS_REPLY_ERROR && strncmp (rep->str, "NOSCRIPT", 8) == 0)
        {
          freeReplyObject (rep);
          if (sq_redis_load_script (r, s, err) < 0)
            return NULL;
          continue;
        }
      if (rep->type == REDIS_REPLY_ERROR)
        {
          /* A command inside the script this user may not run, or a key
           * it may not touch: a refusal like NOPERM, not a script bug. */
          if (strstr (rep->str, "The user executing the script can't"))
            r->denied = 1;
          sq_err_set (err, 0, "script %s: %s%s", s->name,
                      r->denied ? "user may not do this: " : "", rep->str);
          freeReplyObject (rep);
          return NULL;
        }
      return rep;
    }
  sq_err_set (err, 0, "script %s: Redis keeps forgetting it (NOSCRIPT)", s->name);
  return NULL;
}
