#define _GNU_SOURCE
#include "redis.h"

#include <hiredis/sds.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "util.h"

/* HOST, HOST:PORT, [IPV6] or [IPV6]:PORT. */
static int
parse_hostport (const char *s, size_t len, char *host, size_t hlen, int *port,
                int defport, sq_err *err)
{
  char tmp[300], *h = tmp, *rest;

  if (len == 0 || len >= sizeof tmp)
    return sq_err_set (err, 0, "missing or too long host");
  memcpy (tmp, s, len);
  tmp[len] = '\0';
  *port = defport;
  if (tmp[0] == '[')
    {
      char *close = strchr (tmp, ']');
      if (!close)
        return sq_err_set (err, 0, "'[' without its ']' around an IPv6 address");
      h = tmp + 1;
      *close = '\0';
      rest = close + 1;
      if (*rest && *rest != ':')
        return sq_err_set (err, 0, "'%s' after ']': write [IPV6]:PORT", rest);
    }
  else
    {
      rest = strrchr (tmp, ':');
      if (rest && strchr (tmp, ':') != rest)
        return sq_err_set (err, 0, "an IPv6 address must be in brackets, as [::1]:6379");
    }
  if (rest && *rest == ':')
    {
      char *end;
      long p = strtol (rest + 1, &end, 10);
      if (!rest[1] || *end || p < 1 || p > 65535)
        return sq_err_set (err, 0, "bad port '%s'", rest + 1);
      *port = (int) p;
      *rest = '\0';
    }
  if (!h[0] || strlen (h) >= hlen)
    return sq_err_set (err, 0, "missing host");
  snprintf (host, hlen, "%s", h);
  return 0;
}

/* host:port, with an IPv6 address in brackets. */
static const char *
hostport (const char *host, int port, char *buf, size_t len)
{
  snprintf (buf, len, strchr (host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  return buf;
}

/* Percent-decoding, for passwords with reserved characters. */
static int
pct_decode (const char *s, size_t len, char *out, size_t olen)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (o + 1 >= olen)
        return -1;
      if (s[i] == '%' && i + 2 < len)
        {
          char hex[3] = { s[i + 1], s[i + 2], 0 };
          char *end;
          long v = strtol (hex, &end, 16);
          if (*end)
            return -1;
          out[o++] = (char) v;
          i += 2;
        }
      else
        out[o++] = s[i];
    }
  out[o] = '\0';
  return 0;
}

static int
parse_auth (const char **p, struct sq_redis_addr *a, sq_err *err)
{
  const char *at = strchr (*p, '@');
  const char *slash = strchr (*p, '/');
  const char *colon;

  if (!at || (slash && slash < at))
    return 0;
  colon = memchr (*p, ':', at - *p);
  if (colon)
    {
      if (pct_decode (*p, colon - *p, a->user, sizeof a->user) < 0
          || pct_decode (colon + 1, at - colon - 1, a->password, sizeof a->password) < 0)
        return sq_err_set (err, 0, "bad user or password encoding");
    }
  else if (pct_decode (*p, at - *p, a->password, sizeof a->password) < 0)
    return sq_err_set (err, 0, "bad password encoding");
  *p = at + 1;
  return 0;
}

static int
parse_db (const char *s, int *db, sq_err *err)
{
  char *end;
  long v;
  if (!*s)
    return 0;
  v = strtol (s, &end, 10);
  if (*end || v < 0 || v > 10000)
    return sq_err_set (err, 0, "bad database '%s'", s);
  *db = (int) v;
  return 0;
}

static int
parse_url (const char *url, struct sq_redis_addr *a, sq_err *err)
{
  const char *p;

  memset (a, 0, sizeof *a);
  if (strncmp (url, "unix://", 7) == 0)
    {
      const char *q;
      a->kind = SQ_ADDR_UNIX;
      p = url + 7;
      if (parse_auth (&p, a, err) < 0)
        return -1;
      q = strchr (p, '?');
      size_t n = q ? (size_t) (q - p) : strlen (p);
      if (n == 0 || p[0] != '/' || n >= sizeof a->path)
        return sq_err_set (err, 0, "unix:// needs an absolute socket path");
      memcpy (a->path, p, n);
      a->path[n] = '\0';
      if (q)
        {
          if (strncmp (q, "?db=", 4) != 0)
            return sq_err_set (err, 0, "unknown parameter '%s'", q);
          return parse_db (q + 4, &a->db, err);
        }
      return 0;
    }
  if (strncmp (url, "redis://", 8) == 0)
    {
      const char *slash;
      a->kind = SQ_ADDR_TCP;
      p = url + 8;
      if (parse_auth (&p, a, err) < 0)
        return -1;
      slash = strchr (p, '/');
      if (parse_hostport (p, slash ? (size_t) (slash - p) : strlen (p), a->host,
                          sizeof a->host, &a->port, 6379, err)
          < 0)
        return -1;
      return slash ? parse_db (slash + 1, &a->db, err) : 0;
    }
  if (strncmp (url, "sentinel://", 11) == 0)
    {
      const char *slash, *s;
      a->kind = SQ_ADDR_SENTINEL;
      p = url + 11;
      if (parse_auth (&p, a, err) < 0)
        return -1;
      slash = strchr (p, '/');
      if (!slash)
        return sq_err_set (err, 0, "sentinel:// needs /MASTERNAME");
      for (s = p; s < slash;)
        {
          const char *comma = memchr (s, ',', slash - s);
          const char *e = comma ? comma : slash;
          if (a->nsentinels >= SQ_REDIS_MAX_SENTINELS)
            return sq_err_set (err, 0, "more than %d sentinels", SQ_REDIS_MAX_SENTINELS);
          if (parse_hostport (s, e - s, a->sentinel_host[a->nsentinels], 256,
                              &a->sentinel_port[a->nsentinels], 26379, err)
              < 0)
            return -1;
          a->nsentinels++;
          s = e + (comma ? 1 : 0);
        }
      const char *m = slash + 1, *slash2 = strchr (m, '/');
      size_t mlen = slash2 ? (size_t) (slash2 - m) : strlen (m);
      if (mlen == 0 || mlen >= sizeof a->master)
        return sq_err_set (err, 0, "missing master name");
      memcpy (a->master, m, mlen);
      a->master[mlen] = '\0';
      return slash2 ? parse_db (slash2 + 1, &a->db, err) : 0;
    }
  return sq_err_set (err, 0, "unknown scheme");
}

/* Errors name the URL without its user and password. */
int
sq_redis_parse_url (const char *url, struct sq_redis_addr *a, sq_err *err)
{
  if (!url || !*url)
    return sq_err_set (err, 0, "Redis URL: none given; set --redis or SANDQ_REDIS_URL");
  if (parse_url (url, a, err) == 0)
    return 0;
  const char *scheme = strstr (url, "://");
  const char *at = scheme ? strchr (scheme, '@') : NULL;
  char why[sizeof err->msg];
  snprintf (why, sizeof why, "%s", err->msg);
  memset (a, 0, sizeof *a);
  if (at)
    return sq_err_set (
        err, 0,
        "Redis URL '%.*s***%.60s': %s; write redis://[USER:PASSWORD@]HOST:PORT/DB, "
        "unix:///PATH or sentinel://HOST:PORT[,...]/MASTER",
        (int) (scheme + 3 - url), url, at, why);
  return sq_err_set (err, 0,
                     "Redis URL '%.80s': %s; write redis://[USER:PASSWORD@]HOST:PORT/DB, "
                     "unix:///PATH or sentinel://HOST:PORT[,...]/MASTER",
                     url, why);
}

void
sq_redis_url_redacted (const struct sq_redis_addr *a, char *buf, size_t len)
{
  const char *auth = a->password[0] ? "***@" : "";
  char hp[300];
  switch (a->kind)
    {
    case SQ_ADDR_UNIX:
      snprintf (buf, len, "unix://%s%s?db=%d", auth, a->path, a->db);
      break;
    case SQ_ADDR_TCP:
      snprintf (buf, len, "redis://%s%s/%d", auth,
                hostport (a->host, a->port, hp, sizeof hp), a->db);
      break;
    case SQ_ADDR_SENTINEL:
      snprintf (buf, len, "sentinel://%s%s%s/%s/%d", auth,
                hostport (a->sentinel_host[0], a->sentinel_port[0], hp, sizeof hp),
                a->nsentinels > 1 ? ",..." : "", a->master, a->db);
      break;
    }
}

static redisContext *
connect_tcp (const char *host, int port, int timeout_ms, sq_err *err)
{
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  redisContext *c = redisConnectWithTimeout (host, port, tv);
  char hp[300];

  if (!c || c->err)
    {
      sq_err_set (err, 0, "Redis at %s: %s", hostport (host, port, hp, sizeof hp),
                  c ? c->errstr : "out of memory");
      if (c)
        redisFree (c);
      return NULL;
    }
  redisSetTimeout (c, tv);
  redisEnableKeepAlive (c);
  return c;
}

/* Asks each sentinel in turn for the master's address. */
static int
sentinel_master (sq_redis *r, char *host, size_t hlen, int *port, sq_err *err)
{
  struct sq_redis_addr *a = &r->addr;
  sq_err last = { 0 };

  for (int i = 0; i < a->nsentinels; i++)
    {
      redisContext *c
          = connect_tcp (a->sentinel_host[i], a->sentinel_port[i], r->timeout_ms, &last);
      redisReply *rep;
      if (!c)
        continue;
      rep = redisCommand (c, "SENTINEL get-master-addr-by-name %s", a->master);
      if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
        {
          snprintf (host, hlen, "%s", rep->element[0]->str);
          *port = atoi (rep->element[1]->str);
          freeReplyObject (rep);
          redisFree (c);
          return 0;
        }
      char hp[300];
      sq_err_set (&last, 0, "sentinel %s does not know master '%s'",
                  hostport (a->sentinel_host[i], a->sentinel_port[i], hp, sizeof hp),
                  a->master);
      if (rep)
        freeReplyObject (rep);
      redisFree (c);
    }
  return sq_err_set (err, 0, "no sentinel answered for master '%s' (last: %s)", a->master,
                     last.msg);
}

/* Opens r's connection (unix socket, host, or the master a sentinel
 * names) and names it in r->where. 0, or -1 and err. */
static int
open_connection (sq_redis *r, sq_err *err)
{
  struct sq_redis_addr *a = &r->addr;

  if (a->kind == SQ_ADDR_UNIX)
    {
      struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
      r->c = redisConnectUnixWithTimeout (a->path, tv);
      if (!r->c || r->c->err)
        {
          sq_err_set (err, 0, "Redis at unix://%s: %s", a->path,
                      r->c ? r->c->errstr : "out of memory");
          sq_redis_close (r);
          return -1;
        }
      redisSetTimeout (r->c, tv);
      snprintf (r->where, sizeof r->where, "unix://%s", a->path);
    }
  else
    {
      char host[256];
      int port = 0;
      if (a->kind == SQ_ADDR_SENTINEL)
        {
          if (sentinel_master (r, host, sizeof host, &port, err) < 0)
            return -1;
        }
      else
        {
          snprintf (host, sizeof host, "%s", a->host);
          port = a->port;
        }
      r->c = connect_tcp (host, port, r->timeout_ms, err);
      if (!r->c)
        return -1;
      hostport (host, port, r->where, sizeof r->where);
    }
  return 0;
}

int
sq_redis_connect (sq_redis *r, sq_err *err)
{
  struct sq_redis_addr *a = &r->addr;
  redisReply *rep;

  sq_redis_close (r);
  r->auth_failed = 0;
  if (r->timeout_ms <= 0)
    r->timeout_ms = 2000;
  if (open_connection (r, err) < 0)
    return -1;
  if (a->password[0])
    {
      rep = a->user[0] ? redisCommand (r->c, "AUTH %s %s", a->user, a->password)
                       : redisCommand (r->c, "AUTH %s", a->password);
      if (!rep || rep->type == REDIS_REPLY_ERROR)
        {
          sq_err_set (err, 0, "Redis at %s refused the password: %s", r->where,
                      rep ? rep->str : r->c->errstr);
          r->auth_failed = rep != NULL;
          if (rep)
            freeReplyObject (rep);
          sq_redis_close (r);
          return -1;
        }
      freeReplyObject (rep);
    }
  if (a->kind == SQ_ADDR_SENTINEL)
    {
      /* A sentinel may still name the old master for a moment after a
       * failover: only a master will do. */
      rep = redisCommand (r->c, "ROLE");
      int is_master = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
                      && rep->element[0]->type == REDIS_REPLY_STRING
                      && strcmp (rep->element[0]->str, "master") == 0;
      if (!is_master)
        {
          if (rep && rep->type == REDIS_REPLY_ERROR)
            sq_err_set (err, 0, "Redis at %s: ROLE: %.200s", r->where, rep->str);
          else
            sq_err_set (err, 0, "Redis at %s is not a master (yet)", r->where);
          if (rep)
            freeReplyObject (rep);
          sq_redis_close (r);
          return -1;
        }
      freeReplyObject (rep);
    }
  /* A server that wants a password answers NOAUTH to everything: find
   * out now, not as empty replies later. */
  rep = redisCommand (r->c, "PING");
  if (!rep || rep->type == REDIS_REPLY_ERROR)
    {
      if (rep && strncmp (rep->str, "NOAUTH", 6) == 0)
        r->auth_failed = 1;
      if (r->auth_failed)
        sq_err_set (err, 0,
                    "Redis at %s requires a password: set redis_password_file in the "
                    "config, or the credential redis-password",
                    r->where);
      else
        sq_err_set (err, 0, "Redis at %s: PING: %.200s", r->where,
                    rep ? rep->str : r->c->errstr);
      if (rep)
        freeReplyObject (rep);
      sq_redis_close (r);
      return -1;
    }
  freeReplyObject (rep);
  if (a->db)
    {
      rep = redisCommand (r->c, "SELECT %d", a->db);
      if (!rep || rep->type == REDIS_REPLY_ERROR)
        {
          sq_err_set (err, 0, "Redis at %s: SELECT %d failed", r->where, a->db);
          if (rep)
            freeReplyObject (rep);
          sq_redis_close (r);
          return -1;
        }
      freeReplyObject (rep);
    }
  r->nconnects++;
  return 0;
}

void
sq_redis_close (sq_redis *r)
{
  if (r->c)
    redisFree (r->c);
  r->c = NULL;
  if (r->then_reply)
    freeReplyObject (r->then_reply);
  r->then_reply = NULL;
  r->then_argc = 0;
}

int
sq_redis_full_err (const sq_redis *r, sq_err *err, const char *fmt, ...)
{
  char what[SQ_ERR_MSG_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  return sq_err_set (err, 0,
                     "Redis at %s is full (its used memory is over its maxmemory) and "
                     "%s; make room (sandq dead purge; finished jobs expire after their "
                     "--keep) or raise its maxmemory",
                     r->where, what);
}

/* Two refusals that are not connection faults: the connection stays,
 * and a flag tells callers. NOPERM: this user's ACL forbids the command
 * or a key (r->denied). OOM: Redis's used memory is over its maxmemory,
 * and it refuses every command that could add to it, and a script's
 * first such command, so that nothing of it is stored (r->full). what
 * (the command and its key) is worked out only then, off the path of
 * every command. */
static int
is_refusal (const redisReply *rep)
{
  return rep && rep->type == REDIS_REPLY_ERROR
         && (strncmp (rep->str, "NOPERM", 6) == 0 || strncmp (rep->str, "OOM ", 4) == 0);
}

static redisReply *
refused (sq_redis *r, redisReply *rep, const char *what, sq_err *err)
{
  if (rep->str[0] == 'O')
    {
      r->full = 1;
      sq_redis_full_err (r, err, "refused %s", what);
    }
  else
    {
      r->denied = 1;
      sq_err_set (err, 0, "Redis at %s: user '%s' may not run %s: %.200s", r->where,
                  r->addr.user[0] ? r->addr.user : "default", what, rep->str);
    }
  freeReplyObject (rep);
  return NULL;
}

static redisReply *
check_reply (sq_redis *r, redisReply *rep, sq_err *err)
{
  if (!rep)
    {
      sq_err_set (err, 0, "Redis at %s: %s", r->where,
                  r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
      sq_redis_close (r);
      return NULL;
    }
  /* A master demoted by a failover answers READONLY; one still loading its
   * data answers LOADING: reconnect (through Sentinel) later. NOAUTH
   * and WRONGPASS must not pass for empty replies either (NOPERM is a
   * refusal: see refused). */
  if (rep->type == REDIS_REPLY_ERROR
      && (strncmp (rep->str, "READONLY", 8) == 0 || strncmp (rep->str, "LOADING", 7) == 0
          || strncmp (rep->str, "MASTERDOWN", 10) == 0
          || strncmp (rep->str, "NOAUTH", 6) == 0
          || strncmp (rep->str, "WRONGPASS", 9) == 0))
    {
      sq_err_set (err, 0, "Redis at %s: %.200s", r->where, rep->str);
      freeReplyObject (rep);
      sq_redis_close (r);
      return NULL;
    }
  return rep;
}

/* Sends a command chunk by chunk so that r->progress can follow it. */
static redisReply *
cmd_with_progress (sq_redis *r, int argc, const char **argv, const size_t *lens)
{
  void *rep = NULL;
  int done = 0;
  size_t total;

  if (redisAppendCommandArgv (r->c, argc, argv, lens) != REDIS_OK)
    return NULL;
  total = sdslen (r->c->obuf);
  while (!done)
    {
      if (redisBufferWrite (r->c, &done) != REDIS_OK)
        return NULL;
      r->progress (total - sdslen (r->c->obuf), total, r->progress_ctx);
    }
  if (redisGetReply (r->c, &rep) != REDIS_OK)
    return NULL;
  return rep;
}

void
sq_redis_wait_first (sq_redis *r, int argc, const char **argv)
{
  r->wait_argc = argc;
  r->wait_argv = argv;
  r->wait_failed = 0;
}

/* The wait (sq_redis_wait_first) and the command in one write; the wait's
 * reply is read and dropped, the command's returned. */
static redisReply *
cmd_after_wait (sq_redis *r, int wargc, const char **wargv, int argc, const char **argv,
                const size_t *lens)
{
  void *w = NULL, *rep = NULL;

  if (redisAppendCommandArgv (r->c, wargc, wargv, NULL) != REDIS_OK
      || redisAppendCommandArgv (r->c, argc, argv, lens) != REDIS_OK
      || redisGetReply (r->c, &w) != REDIS_OK)
    {
      r->wait_failed = 1;
      return NULL;
    }
  r->wait_failed = ((redisReply *) w)->type == REDIS_REPLY_ERROR;
  freeReplyObject (w);
  if (redisGetReply (r->c, &rep) != REDIS_OK)
    return NULL;
  return rep;
}

void
sq_redis_then (sq_redis *r, int argc, const char **argv, const size_t *lens)
{
  r->then_argc = argc;
  r->then_argv = argv;
  r->then_lens = lens;
}

redisReply *
sq_redis_then_take (sq_redis *r)
{
  redisReply *rep = r->then_reply;

  r->then_reply = NULL;
  return rep;
}

/* The command, then the one of sq_redis_then, in one write; the first's
 * reply is returned, the second's kept. Both are read before either is
 * looked at, so that the connection stays in step whatever they say. */
static redisReply *
cmd_then (sq_redis *r, int argc, const char **argv, const size_t *lens, int targc,
          const char **targv, const size_t *tlens)
{
  void *rep = NULL, *then = NULL;

  if (redisAppendCommandArgv (r->c, argc, argv, lens) != REDIS_OK
      || redisAppendCommandArgv (r->c, targc, targv, tlens) != REDIS_OK
      || redisGetReply (r->c, &rep) != REDIS_OK)
    return NULL;
  if (redisGetReply (r->c, &then) != REDIS_OK)
    {
      /* The first's answer stands; the connection is lost or out of
       * step, so it goes, and the next command makes a new one. */
      sq_redis_close (r);
      return rep;
    }
  if (r->then_reply)
    freeReplyObject (r->then_reply);
  r->then_reply = then;
  return rep;
}

/* The command and the key it names, for a refusal: "GET sandq:{Q}:...";
 * of EVALSHA, its first key. */
static void
describe (int argc, const char **argv, const size_t *lens, char *buf, size_t len)
{
  int k = argc > 3 && strcmp (argv[0], "EVALSHA") == 0 ? 3 : 1;
  if (argc <= k)
    {
      snprintf (buf, len, "%s", argv[0]);
      return;
    }
  size_t klen = lens ? lens[k] : strlen (argv[k]);
  snprintf (buf, len, "%s %.*s", k == 3 ? "a script on" : argv[0],
            (int) (klen < 150 ? klen : 150), argv[k]);
}

redisReply *
sq_redis_cmd (sq_redis *r, sq_err *err, int argc, const char **argv, const size_t *lens)
{
  size_t total = 0;
  int wargc = r->wait_argc, targc = r->then_argc;
  const char **wargv = r->wait_argv;
  redisReply *rep;

  r->full = 0;
  r->wait_argc = 0;
  r->wait_argv = NULL;
  r->then_argc = 0;
  if (!r->c && sq_redis_connect (r, err) < 0)
    return NULL;
  r->ncommands++;
  for (int i = 0; r->progress && lens && i < argc; i++)
    total += lens[i];
  if (wargc > 0)
    rep = cmd_after_wait (r, wargc, wargv, argc, argv, lens);
  else if (r->progress && total > (1 << 20))
    rep = cmd_with_progress (r, argc, argv, lens);
  else if (targc > 0)
    rep = cmd_then (r, argc, argv, lens, targc, r->then_argv, r->then_lens);
  else
    rep = redisCommandArgv (r->c, argc, argv, lens);
  if (is_refusal (rep))
    {
      char what[200];
      describe (argc, argv, lens, what, sizeof what);
      return refused (r, rep, what, err);
    }
  return check_reply (r, rep, err);
}

redisReply *
sq_redis_cmdf (sq_redis *r, sq_err *err, const char *fmt, ...)
{
  va_list ap;
  redisReply *rep;

  r->full = 0;
  if (!r->c && sq_redis_connect (r, err) < 0)
    return NULL;
  r->ncommands++;
  va_start (ap, fmt);
  rep = redisvCommand (r->c, fmt, ap);
  va_end (ap);
  if (is_refusal (rep))
    {
      /* The command and its key: the first two words. */
      char what[200];
      va_start (ap, fmt);
      vsnprintf (what, sizeof what, fmt, ap);
      va_end (ap);
      char *sp = strchr (what, ' ');
      if (sp && (sp = strchr (sp + 1, ' ')))
        *sp = '\0';
      return refused (r, rep, what, err);
    }
  return check_reply (r, rep, err);
}

int
sq_redis_maxmemory_policy (sq_redis *r, char *buf, size_t len, sq_err *err)
{
  static const char key[] = "maxmemory_policy:";
  redisReply *rep = sq_redis_cmdf (r, err, "INFO memory");

  if (!rep)
    {
      /* Not this user's to ask: nothing later is to be blamed on it. */
      sq_redis_take_denied (r);
      return -1;
    }
  const char *p = rep->type == REDIS_REPLY_STRING ? strstr (rep->str, key) : NULL;
  if (!p)
    {
      sq_err_set (err, 0, "Redis at %s: INFO memory names no %.*s", r->where,
                  (int) sizeof key - 2, key);
      freeReplyObject (rep);
      return -1;
    }
  p += sizeof key - 1;
  size_t n = strcspn (p, "\r\n");
  snprintf (buf, len, "%.*s", (int) n, p);
  freeReplyObject (rep);
  return 0;
}

void
sq_redis_backoff (unsigned attempt)
{
  uint64_t cap = 50ULL << (attempt < 7 ? attempt : 7);
  if (cap > 5000)
    cap = 5000;
  uint64_t ms = 10 + (uint64_t) random () % cap;
  struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000 };
  nanosleep (&ts, NULL);
}
