/* sandq, the submit CLI: shared helpers of the subcommands. */
#ifndef SQ_CLI_H
#define SQ_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/config.h"
#include "../common/proto.h"
#include "../common/redis.h"
#include "../common/spec.h"

/* Exit codes, documented in README ("Exit status of sandq"). */
enum
{
  SQ_EXIT_OK = 0,
  SQ_EXIT_VERDICT = 1,   /* the job's verdict is not ok */
  SQ_EXIT_USAGE = 2,     /* usage or bad input */
  SQ_EXIT_FAILURE = 3,   /* Redis unreachable, protocol or local failure */
  SQ_EXIT_NOT_FOUND = 4, /* no such job (or worker) */
  SQ_EXIT_TIMEOUT = 5,   /* wait --timeout ran out */
  SQ_EXIT_DENIED = 6,    /* the Redis user lacks a permission (ACL) */
};

struct cli
{
  const char *redis_flag;
  const char *config_path;
  const char *queue; /* --queue, or NULL */
  int json;
  struct sq_config conf;
  sq_redis r;
  struct sq_proto p;
  int connected;
  const char *key_path; /* --key, or $SANDQ_KEY: opens sealed results */
  int sealed;           /* a sealed result could not be opened */
};

struct command
{
  const char *name;
  int (*run) (struct cli *c, int argc, char **argv);
  const char *summary;
  const char *role; /* the Redis ACL role it needs (sandq acl), or NULL */
};

/* A progress line on a terminal (progress.c). */
struct cli_progress
{
  const char *phase; /* "packing", "uploading" */
  uint64_t total, start_ms, last_ms;
  int on, drawn;
};
void cli_progress_start (struct cli_progress *p, const char *phase, uint64_t total,
                         int on);
void cli_progress_update (struct cli_progress *p, uint64_t done);
void cli_progress_end (struct cli_progress *p);

/* The message of a job ID its queue does not hold (id, queue). */
#define CLI_NO_JOB                                                                       \
  "job '%s': not in queue '%s'; it may have expired, or be in another queue (--queue)"

/* Connects or exits with SQ_EXIT_FAILURE and a clear message. */
void cli_connect (struct cli *c);

/* The queue of job id: --queue, else the index, else the default. */
void cli_job_queue (struct cli *c, const char *id, char *queue, size_t len);

/* Prints a failure (Redis, or local) and returns its exit code:
 * SQ_EXIT_DENIED, naming the role the command needs, if Redis refused
 * this user a command or key; else SQ_EXIT_FAILURE. */
int cli_failed (const char *msg);

__attribute__ ((noreturn, format (printf, 2, 3))) void cli_die (int code, const char *fmt,
                                                                ...);

/* Reads a job hash into a JSON object (numbers as numbers); NULL if the
 * job does not exist. */
json_t *cli_job_json (struct cli *c, const char *queue, const char *id);

/* A JSON string of any bytes (captured output, fields other clients
 * wrote): JSON strings are UTF-8, so each byte that does not begin a valid
 * sequence becomes U+FFFD, as Python's errors="replace" does. */
json_t *cli_json_text (const char *data, size_t len);

/* Prints a job as JSON or as "key: value" lines. */
void cli_print_job (struct cli *c, json_t *job);
/* s for a terminal: control characters (C0, DEL, C1) as \xNN. Returns buf. */
const char *cli_term_text (const char *s, char *buf, size_t len);

/* Blocks until the job is final (or timeout_ms passes, 0 = forever),
 * printing state changes to stderr when it is a terminal. Returns the
 * final job, or NULL on timeout (exit code set in *code). */
json_t *cli_wait (struct cli *c, const char *queue, const char *id, uint64_t timeout_ms,
                  int quiet, int *code);

/* Reads what is new in job id's live stream after the entry last,
 * waiting up to block_ms (0: not at all), and writes the bytes not yet
 * printed (printed[0] of stdout, printed[1] of stderr) to o and e.
 * Returns the entries read, -1 if Redis failed. */
int cli_live_step (struct cli *c, const char *queue, const char *id, char *last,
                   size_t lastlen, uint64_t printed[2], FILE *o, FILE *e, int block_ms);

/* Follows a job's output to its verdict: the live stream while it runs,
 * then what the stream did not carry from the result. Returns the final
 * job, or NULL (code set). */
json_t *cli_follow (struct cli *c, const char *queue, const char *id, FILE *o, FILE *e,
                    int *code);

/* 0 if dir is absent or empty (a result can go there), else -1 with the
 * reason in msg. */
int cli_check_result_dir (const char *dir, char *msg, size_t len);

/* Downloads and extracts a result archive into dir (absent or empty). */
int cli_fetch_result (struct cli *c, const char *queue, const char *id, const char *dir,
                      int *code);

/* Adds "ID[:PATH]" to spec as a chained input after checking that the
 * job is in queue and has a result, which it keeps for at least the new
 * job's ttl and a day. 0; -1 Redis failed; -2 bad (err says why); -4 no
 * such job. */
int cli_chain_input (struct cli *c, struct sq_spec *spec, const char *queue,
                     const char *arg, uint64_t ttl_ms, sq_err *err);

/* The live workers (a heartbeat in the last 30 s), as sandq workers
 * --json lists them. If optional, NULL when this Redis user may not read
 * the workers' registry (a submitter role: it names every team's jobs). */
json_t *cli_live_workers (struct cli *c, int optional);

/* A fresh job id (26 characters and a NUL). */
void cli_new_id (char *out);

/* The input archive of `submit` (inputs.c): one .tar or .tar.gz PATH as
 * it is, else a tar.gz of the PATHs, at most max bytes; exits with a
 * message on failure. *len 0 and NULL for no PATH. */
void *cli_pack_inputs (char **paths, int n, uint64_t max, size_t *len, int tty);

/* Exit code for a final job's status. */
int cli_status_code (json_t *job);

int cmd_submit (struct cli *c, int argc, char **argv);
int cmd_status (struct cli *c, int argc, char **argv);
int cmd_wait (struct cli *c, int argc, char **argv);
int cmd_result (struct cli *c, int argc, char **argv);
int cmd_logs (struct cli *c, int argc, char **argv);
int cmd_cancel (struct cli *c, int argc, char **argv);
int cmd_stats (struct cli *c, int argc, char **argv);
int cmd_dead (struct cli *c, int argc, char **argv);
int cmd_workers (struct cli *c, int argc, char **argv);
int cmd_drain (struct cli *c, int argc, char **argv);
int cmd_pause (struct cli *c, int argc, char **argv);
int cmd_resume (struct cli *c, int argc, char **argv);
int cmd_mcp (struct cli *c, int argc, char **argv);
int cmd_acl (struct cli *c, int argc, char **argv);
int cmd_keygen (struct cli *c, int argc, char **argv);

/* The result archive of job id (sq_result_get), opened with the secret key
 * of --key or $SANDQ_KEY if it is sealed. NULL with err if Redis failed,
 * or if it is sealed and there is no key or the key does not open it
 * (then c->sealed is set). (sealed.c) */
redisReply *cli_result_get (struct cli *c, const char *queue, const char *id,
                            sq_err *err);

/* Options every subcommand takes, for its getopt_long table. */
enum
{
  OPT_REDIS = 1000,
  OPT_CONFIG,
  OPT_QUEUE,
  OPT_JSON,
  OPT_KEY /* only in the tables of commands that read results */
};
#define CLI_COMMON_OPTS                                                                  \
  { "redis", required_argument, 0, OPT_REDIS },                                          \
      { "config", required_argument, 0, OPT_CONFIG },                                    \
      { "queue", required_argument, 0, OPT_QUEUE },                                      \
      { "json", no_argument, 0, OPT_JSON },                                              \
  {                                                                                      \
    "help", no_argument, 0, 'h'                                                          \
  }

/* Handles a common option; returns 1 if it was one. Exits on --help. */
int cli_common_opt (struct cli *c, int opt, const char *arg, const char *help);

/* Parses a subcommand's options; returns optind. Unknown options exit 2. */
int cli_getopt (struct cli *c, int argc, char **argv, const struct option *opts,
                const char *help, int (*extra) (struct cli *, int, const char *, void *),
                void *ctx);

/* Handles -h/--help for a subcommand: prints text and exits 0. */
void cli_help_if_asked (int argc, char **argv, const char *text);

#endif
