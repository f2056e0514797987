/* A Redis connection for sandq: URL parsing, connect, auth, Sentinel
 * master discovery, and scripts by SHA with a reload on NOSCRIPT.
 *
 * Knows nothing of sandboxes. One sq_redis belongs to one thread.
 */
#ifndef SQ_REDIS_H
#define SQ_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "err.h"

#define SQ_REDIS_MAX_SENTINELS 8

struct sq_redis_addr
{
  enum
  {
    SQ_ADDR_TCP,
    SQ_ADDR_UNIX,
    SQ_ADDR_SENTINEL
  } kind;
  char host[256];
  int port;
  char path[512]; /* unix socket */
  char user[128];
  char password[256];
  int db;
  /* sentinel://h1:p1,h2:p2/MASTERNAME */
  char master[128];
  int nsentinels;
  char sentinel_host[SQ_REDIS_MAX_SENTINELS][256];
  int sentinel_port[SQ_REDIS_MAX_SENTINELS];
};

/* Parses redis://[user:password@]host[:port][/db],
 * unix:///path/to.sock[?db=N], or
 * sentinel://[user:password@]host:port[,host:port...]/MASTERNAME[/db].
 * The message names the URL part that is wrong, never the password. */
int sq_redis_parse_url (const char *url, struct sq_redis_addr *a, sq_err *err);

/* The URL with any password replaced by "***", for logs. */
void sq_redis_url_redacted (const struct sq_redis_addr *a, char *buf, size_t len);

typedef struct sq_redis
{
  struct sq_redis_addr addr;
  redisContext *c; /* NULL while disconnected */
  int timeout_ms;
  char where[300]; /* host:port actually connected to */
  /* Called while a large command is being sent: bytes sent, total. */
  void (*progress) (size_t done, size_t total, void *ctx);
  void *progress_ctx;
  unsigned long long ncommands; /* round trips sent on this connection */
  unsigned long long nconnects; /* connections made (a new one: +1) */
  /* Set by sq_redis_connect when the server refused the password or wants
   * one: a fault of the configuration, which no retry mends. */
  int auth_failed;
  /* Set when Redis refused a command or key to this user (NOPERM, or a
   * script's command refused): the ACL's doing, which no retry mends. The
   * command returns NULL with err saying what was refused; the connection
   * stays open. It stays set until taken (sq_redis_take_denied). */
  int denied;
  /* Set when Redis refused the last command because its used memory is
   * over its maxmemory (an OOM reply): not this user's fault, and mended
   * only by room. The command returns NULL with err saying so; the
   * connection stays open. Cleared by the next command. */
  int full;
  /* A blocking wait to send ahead of the next command (sq_redis_wait_first). */
  int wait_argc;
  const char **wait_argv;
  /* Set when the last wait sent ahead failed or was refused (it did not
   * wait); cleared when the next is set. */
  int wait_failed;
  /* A command to send behind the next one (sq_redis_then), and its reply
   * until taken. */
  int then_argc;
  const char **then_argv;
  const size_t *then_lens;
  void *then_reply;
} sq_redis;

/* Whether a command was refused to this user since the last call, and
 * forgets it: for a caller that has another way when one is. */
static inline int
sq_redis_take_denied (sq_redis *r)
{
  int denied = r->denied;

  r->denied = 0;
  return denied;
}

/* Sets err to say that Redis (r->full) is full and what of it (the
 * printf-style tail: "refused SET key", "stored nothing of job 'x'"), and
 * what to do about it; returns -1. */
int sq_redis_full_err (const sq_redis *r, sq_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Connects (following Sentinel to the master, checking ROLE), AUTHs and
 * SELECTs. On failure r->c stays NULL and err says which step failed. */
int sq_redis_connect (sq_redis *r, sq_err *err);
void sq_redis_close (sq_redis *r);

/* Runs one command (binary-safe argv). Returns the reply, or NULL with err
 * set: on a connection error the connection is closed, so the caller can
 * reconnect; a refusal (r->denied, r->full) keeps it open. Any other error
 * reply is returned as a reply (type REDIS_REPLY_ERROR). */
redisReply *sq_redis_cmd (sq_redis *r, sq_err *err, int argc, const char **argv,
                          const size_t *lens);

/* Sends the blocking wait argv (BLPOP ...) ahead of the next sq_redis_cmd
 * (a script call too), in the same write: Redis reads a client's next
 * command only once its wait has returned, so the command runs the moment
 * the wait ends, without a round trip back to us. The wait's reply is
 * dropped; r->wait_failed says whether it failed (refused: then the
 * command ran at once). argv must live until that command returns; only
 * sq_redis_cmd (and so sq_redis_eval) sends it. */
void sq_redis_wait_first (sq_redis *r, int argc, const char **argv);

/* Sends argv behind the next sq_redis_cmd's command (a script call too),
 * in the same write, and keeps its reply for sq_redis_then_take: both in
 * one round trip. Redis runs it right after that command, whatever that
 * command's answer. argv and lens must live until that command returns.
 * It is not sent behind a wait (sq_redis_wait_first) or a command sent
 * with progress. */
void sq_redis_then (sq_redis *r, int argc, const char **argv, const size_t *lens);

/* The reply to the command of sq_redis_then (the caller frees it), or
 * NULL: it was not sent, or its reply was lost with the connection
 * (closed then; whether it ran is not known). */
redisReply *sq_redis_then_take (sq_redis *r);

/* printf-style command, for fixed commands. Same contract. */
redisReply *sq_redis_cmdf (sq_redis *r, sq_err *err, const char *fmt, ...);

/* Redis's maxmemory-policy (INFO memory) into buf: 0, or -1 with err (also
 * when this user may not run INFO; r->denied is left clear then). */
int sq_redis_maxmemory_policy (sq_redis *r, char *buf, size_t len, sq_err *err);

/* A Lua script known by its SHA-1, computed when sandq is built; the
 * source is sent only when Redis answers NOSCRIPT (after a restart). */
struct sq_script
{
  const char *name;
  const char *source;
  const char *sha; /* SHA-1 of source, 40 hex digits */
};

/* SCRIPT LOAD of s, checking that Redis names it by s->sha. If this user
 * may not load scripts, err says who loads them. 0, or -1 with err. */
int sq_redis_load_script (sq_redis *r, const struct sq_script *s, sq_err *err);

/* EVALSHA with keys then args. NULL with err on connection errors and on
 * script errors (the message includes the script's name). */
redisReply *sq_redis_eval (sq_redis *r, struct sq_script *s, int nkeys, const char **keys,
                           int nargs, const char **args, const size_t *arglens,
                           sq_err *err);

/* Sleeps for the next reconnect delay: exponential from 50 ms to 5 s with
 * full jitter. attempt starts at 0. */
void sq_redis_backoff (unsigned attempt);

#endif
