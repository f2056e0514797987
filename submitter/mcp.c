/* sandq mcp: sandq as a Model Context Protocol server over stdio.
 *
 * JSON-RPC 2.0, one message per line on stdin and stdout; logs go to
 * stderr. Revisions 2025-11-25 (current), 2025-06-18, 2025-03-26 and
 * 2024-11-05 are spoken: the client's, if it is one of them, else the
 * newest. Tools: run_python and run_shell, each a sandq job on the
 * fleet; a call is answered when the job is final, with progress
 * notifications meanwhile, and a client's cancellation cancels the job.
 * Files the job left in out/ come back as images (PNG, JPEG, GIF, WebP)
 * or as links to resources (sandq://job/QUEUE/ID/out/PATH), which
 * resources/read serves in pieces.
 *
 * The loop is single-threaded: it polls stdin, and every MCP_TICK_MS the
 * jobs in flight (one HGETALL each), so that pings, cancellations and new
 * calls are answered while jobs run. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/spec.h"
#include "../common/util.h"
#include "cli.h"
#include "mcp.h"

static const char *const versions[]
    = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL };

/* ---- The tools ---- */

static const char tools_json[]
    = "["
#define COMMON_PROPS                                                                     \
  "\"files\":{\"type\":\"array\",\"maxItems\":64,\"description\":\"Files put in the "    \
  "job's "                                                                               \
  "working directory /work before it runs.\",\"items\":{\"type\":\"object\","            \
  "\"additionalProperties\":false,\"required\":[\"path\"],\"properties\":{"              \
  "\"path\":{\"type\":\"string\",\"description\":\"Relative path under /work, e.g. "     \
  "data/sales.csv.\"},\"text\":{\"type\":\"string\",\"description\":\"The file's "       \
  "content as text.\"},\"base64\":{\"type\":\"string\",\"description\":\"The file's "    \
  "content, base64-encoded (instead of text).\"}}}},"                                    \
  "\"inputs\":{\"type\":\"array\",\"maxItems\":8,\"items\":{\"type\":\"string\"},"       \
  "\"description\":\"Earlier calls' job ids (structuredContent.job_id), each "           \
  "optionally :PATH: their out/ (or out/PATH) is put into /work as it was in "           \
  "out/, without sending the files again.\"},"                                           \
  "\"network\":{\"type\":\"array\",\"maxItems\":8,\"items\":{\"type\":\"string\"},"      \
  "\"description\":\"Network profiles the operator offers (e.g. pypi); none: no "        \
  "network.\"},"                                                                         \
  "\"limits\":{\"type\":\"object\",\"additionalProperties\":false,\"description\":"      \
  "\"Within the operator's caps; absent: the workers' defaults.\",\"properties\":{"      \
  "\"memory_mb\":{\"type\":\"integer\",\"minimum\":4,\"maximum\":1048576},"              \
  "\"wall_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":86400},"             \
  "\"cpu_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":86400}}}"
#define OUTPUT_SCHEMA                                                                    \
  "\"outputSchema\":{\"type\":\"object\",\"required\":[\"job_id\",\"status\","           \
  "\"message\",\"files\"],\"properties\":{\"job_id\":{\"type\":\"string\"},"             \
  "\"queue\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"},"                    \
  "\"message\":{\"type\":\"string\"},\"exit_code\":{\"type\":[\"integer\",\"null\"]},"   \
  "\"wall_ms\":{\"type\":\"integer\"},\"cpu_ms\":{\"type\":\"integer\"},"                \
  "\"memory_peak_bytes\":{\"type\":\"integer\"},\"files\":{\"type\":\"array\","          \
  "\"items\":{\"type\":\"object\",\"required\":[\"path\",\"size\"],\"properties\":{"     \
  "\"path\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},"                      \
  "\"sha256\":{\"type\":\"string\"}}}}}}"
      "{\"name\":\"run_python\",\"title\":\"Run Python\","
      "\"description\":\"Runs Python 3 code in a fresh sandbox "
      "next to the data: no network unless a profile is named, "
      "hard limits. The code runs as /work/main.py in /work. "
      "Files written to /work/out come back (images are "
      "shown). Returns the verdict, exit code and the ends of "
      "stdout and stderr.\","
      "\"inputSchema\":{\"type\":\"object\","
      "\"additionalProperties\":false,\"required\":[\"code\"],"
      "\"properties\":{\"code\":{\"type\":\"string\","
      "\"description\":\"Python 3 source.\"}," COMMON_PROPS "}}," OUTPUT_SCHEMA "},"
      "{\"name\":\"run_shell\",\"title\":\"Run a shell command\","
      "\"description\":\"Runs a command with /bin/sh -c in a fresh sandbox "
      "next to the data: no network unless a profile is named, hard limits. "
      "It starts in /work; files written to /work/out come back (images are "
      "shown). Returns the verdict, exit code and the ends of stdout and "
      "stderr.\","
      "\"inputSchema\":{\"type\":\"object\",\"additionalProperties\":false,"
      "\"required\":[\"command\"],\"properties\":{\"command\":{\"type\":"
      "\"string\",\"description\":\"A /bin/sh command line.\"}," COMMON_PROPS
      "}}," OUTPUT_SCHEMA "}]";
#undef COMMON_PROPS
#undef OUTPUT_SCHEMA

static json_t *
tools_list (void)
{
  json_error_t je;
  json_t *t = json_loads (tools_json, 0, &je);
  if (!t)
    cli_die (SQ_EXIT_FAILURE, "mcp: the tool definitions do not parse: %s", je.text);
  return t;
}

/* ---- JSON-RPC out ---- */

static void
send_msg (json_t *msg)
{
  char *s = json_dumps (msg, JSON_COMPACT);
  json_decref (msg);
  if (!s || printf ("%s\n", s) < 0 || fflush (stdout) != 0)
    {
      free (s);
      fprintf (stderr, "sandq mcp: cannot write to stdout; exiting\n");
      exit (SQ_EXIT_FAILURE);
    }
  free (s);
}

static void
reply (json_t *id, json_t *result)
{
  send_msg (json_pack ("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

void
mcp_reply_error (json_t *id, int code, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  send_msg (json_pack ("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                       id ? id : json_null (), "error", "code", code, "message", msg));
}

json_t *
mcp_tool_error (const char *fmt, ...)
{
  char msg[600];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return json_pack ("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg,
                    "isError", 1);
}

/* ---- The jobs in flight ---- */

static void
progress (struct call *call, const char *what)
{
  if (!call->token)
    return;
  char msg[96];
  snprintf (msg, sizeof msg, "job %s %s (%" PRIu64 " s)", call->id, what,
            (sq_now_ms () - call->started_ms) / 1000);
  send_msg (json_pack ("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
                       "notifications/progress", "params", "progressToken", call->token,
                       "progress", ++call->progress, "message", msg));
  call->last_progress_ms = sq_now_ms ();
}

static void
call_free (struct call *call)
{
  json_decref (call->rpc_id);
  json_decref (call->token);
  free (call);
}

static void
poll_calls (struct mcp *m)
{
  for (struct call **pp = &m->calls; *pp;)
    {
      struct call *call = *pp;
      json_t *job = cli_job_json (m->c, call->queue, call->id);
      const char *state = job ? json_string_value (json_object_get (job, "state")) : NULL;
      if (!job)
        {
          reply (call->rpc_id, mcp_tool_error ("job %s is gone from queue %s (expired?)",
                                               call->id, call->queue));
          *pp = call->next;
          call_free (call);
          continue;
        }
      if (state && strcmp (state, "final") == 0)
        {
          reply (call->rpc_id, mcp_final_result (m, call, job));
          json_decref (job);
          *pp = call->next;
          call_free (call);
          continue;
        }
      if (state && strcmp (state, call->state) != 0)
        {
          snprintf (call->state, sizeof call->state, "%s", state);
          progress (call, state);
        }
      else if (sq_now_ms () - call->last_progress_ms >= MCP_PROGRESS_MS)
        progress (call, call->state);
      json_decref (job);
      pp = &call->next;
    }
}

static void
cancel_call (struct mcp *m, json_t *request_id, const char *why)
{
  for (struct call **pp = &m->calls; *pp; pp = &(*pp)->next)
    if (json_equal ((*pp)->rpc_id, request_id))
      {
        struct call *call = *pp;
        char outcome[32];
        sq_err err = { 0 };
        if (sq_cancel (&m->c->p, call->queue, call->id, outcome, sizeof outcome, &err)
            < 0)
          fprintf (stderr, "sandq mcp: cancel job %s: %s\n", call->id, err.msg);
        else
          fprintf (stderr, "sandq mcp: job %s %s (%s)\n", call->id, outcome, why);
        *pp = call->next;
        call_free (call);
        return;
      }
}

/* ---- Dispatch ---- */

/* initialize: the protocol version both speak, and what sandq offers. */
static void
initialize (struct mcp *m, json_t *id, json_t *params)
{
  const char *want = json_string_value (json_object_get (params, "protocolVersion"));

  m->version = 0;
  for (int i = 0; want && versions[i]; i++)
    if (strcmp (want, versions[i]) == 0)
      m->version = i;
  reply (id, json_pack ("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s}, s:s}", "protocolVersion",
                        versions[m->version], "capabilities", "tools", "listChanged", 0,
                        "resources", "serverInfo", "name", "sandq", "version",
                        SANDQ_VERSION, "instructions",
                        "run_python and run_shell run code in a sandbox on the sandq "
                        "fleet, next to the data. Each call is a fresh sandbox: "
                        "pass the files a step needs. Write result files to "
                        "/work/out; images there are returned as images."));
}

/* tools/call: the job is submitted and the call kept until its verdict
 * (poll_calls), or the reason it cannot run is the answer now. */
static void
tools_call (struct mcp *m, json_t *id, json_t *params)
{
  const char *name = json_string_value (json_object_get (params, "name"));

  if (!name || (strcmp (name, "run_python") && strcmp (name, "run_shell")))
    {
      mcp_reply_error (id, -32602,
                       "tools/call: unknown tool '%.64s' (run_python, "
                       "run_shell)",
                       name ? name : "");
      return;
    }
  struct call *call = calloc (1, sizeof *call);
  if (!call)
    {
      mcp_reply_error (id, -32603, "out of memory");
      return;
    }
  json_t *args = json_object_get (params, "arguments");
  json_t *none = args ? NULL : json_object ();
  json_t *bad = mcp_submit_call (m, name, args ? args : none, call);
  json_decref (none);
  if (bad)
    {
      reply (id, bad);
      free (call);
      return;
    }
  call->rpc_id = json_incref (id);
  json_t *meta = json_object_get (params, "_meta");
  json_t *token = meta ? json_object_get (meta, "progressToken") : NULL;
  call->token = token ? json_incref (token) : NULL;
  call->next = m->calls;
  m->calls = call;
  progress (call, "queued");
}

static void
handle (struct mcp *m, json_t *msg)
{
  json_t *id = json_object_get (msg, "id");
  const char *method = json_string_value (json_object_get (msg, "method"));
  json_t *params = json_object_get (msg, "params");

  const char *jsonrpc = json_string_value (json_object_get (msg, "jsonrpc"));
  if (!json_is_object (msg) || !method || !jsonrpc || strcmp (jsonrpc, "2.0") != 0)
    {
      /* A response to us (we send no requests) or not JSON-RPC. */
      if (json_is_object (msg) && !method
          && (json_object_get (msg, "result") || json_object_get (msg, "error")))
        return;
      mcp_reply_error (id, -32600, "not a JSON-RPC 2.0 request");
      return;
    }
  if (params && !json_is_object (params))
    {
      if (id)
        mcp_reply_error (id, -32602, "%s: params must be an object", method);
      return;
    }
  if (!id) /* notifications */
    {
      if (strcmp (method, "notifications/cancelled") == 0 && params)
        cancel_call (m, json_object_get (params, "requestId"), "cancelled by the client");
      return;
    }
  if (strcmp (method, "initialize") == 0)
    initialize (m, id, params);
  else if (strcmp (method, "ping") == 0)
    reply (id, json_object ());
  else if (strcmp (method, "tools/list") == 0)
    reply (id, json_pack ("{s:o}", "tools", tools_list ()));
  else if (strcmp (method, "resources/list") == 0)
    reply (id, json_pack ("{s:[]}", "resources"));
  else if (strcmp (method, "resources/read") == 0)
    {
      json_t *r = mcp_read_resource (m, id, params);
      if (r)
        reply (id, r);
    }
  else if (strcmp (method, "tools/call") == 0)
    tools_call (m, id, params);
  else
    mcp_reply_error (id, -32601, "method '%.64s' not found", method);
}

static int
print_opt (struct cli *c, int o, const char *arg, void *ctx)
{
  (void) c;
  (void) arg;
  if (o != 'P')
    return 0;
  *(int *) ctx = 1;
  return 1;
}

int
cmd_mcp (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq mcp [--queue Q] [--redis URL] [--config FILE] [--print-tools]\n\n"
        "An MCP (Model Context Protocol) server on stdin and stdout, for agents and\n"
        "LLM gateways: JSON-RPC, one message per line; logs go to stderr. Its\n"
        "tools run_python and run_shell run each call as a job on queue Q (default:\n"
        "default) and answer with the verdict, the ends of stdout and stderr, the\n"
        "images in out/ and links to its other files. --print-tools prints the\n"
        "tool definitions (JSON Schema) and exits.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "print-tools", no_argument, 0, 'P' },
    { 0, 0, 0, 0 },
  };
  int print = 0;
  if (cli_getopt (c, argc, argv, opts, help, print_opt, &print) != argc)
    cli_die (SQ_EXIT_USAGE, "mcp: takes no arguments");
  if (print)
    {
      json_t *t = json_pack ("{s:o}", "tools", tools_list ());
      char *s = json_dumps (t, JSON_INDENT (2));
      json_decref (t);
      puts (s);
      free (s);
      return SQ_EXIT_OK;
    }
  struct mcp m = { .c = c, .queue = c->queue ? c->queue : SQ_DEFAULT_QUEUE };
  if (!sq_valid_name (m.queue, SQ_QUEUE_MAX))
    cli_die (SQ_EXIT_USAGE, "mcp: --queue '%s': not a queue name", m.queue);
  cli_connect (c);
  fprintf (stderr, "sandq mcp: serving on stdio, jobs go to queue %s\n", m.queue);

  char *buf = NULL;
  size_t len = 0, cap = 0;
  int eof = 0;
  while (!eof)
    {
      struct pollfd pf = { STDIN_FILENO, POLLIN, 0 };
      int n = poll (&pf, 1, m.calls ? MCP_TICK_MS : -1);
      if (n < 0 && errno != EINTR)
        break;
      if (n > 0)
        {
          if (len + 65536 > cap)
            {
              cap = cap ? cap * 2 : 1 << 20;
              char *nb = realloc (buf, cap);
              if (!nb)
                cli_die (SQ_EXIT_FAILURE, "mcp: out of memory");
              buf = nb;
            }
          ssize_t r = read (STDIN_FILENO, buf + len, cap - len - 1);
          if (r < 0 && errno != EINTR && errno != EAGAIN)
            break;
          eof = r == 0;
          len += r > 0 ? (size_t) r : 0;
          char *nl;
          while ((nl = memchr (buf, '\n', len)))
            {
              size_t ll = (size_t) (nl - buf);
              json_error_t je;
              json_t *msg = ll ? json_loadb (buf, ll, JSON_REJECT_DUPLICATES, &je) : NULL;
              if (ll && !msg)
                mcp_reply_error (NULL, -32700, "parse error: %s", je.text);
              else if (msg && json_is_array (msg))
                mcp_reply_error (NULL, -32600, "batches are not supported");
              else if (msg)
                handle (&m, msg);
              json_decref (msg);
              memmove (buf, nl + 1, len - ll - 1);
              len -= ll + 1;
            }
          if (len > MCP_MAX_MESSAGE)
            {
              mcp_reply_error (NULL, -32600, "a message longer than %u MiB",
                               MCP_MAX_MESSAGE >> 20);
              len = 0; /* and the rest of that line is dropped as a parse error */
            }
        }
      if (m.calls)
        poll_calls (&m);
    }
  free (buf);
  /* The client is gone: nobody will read what its jobs find. */
  while (m.calls)
    {
      json_t *rid = json_incref (m.calls->rpc_id);
      cancel_call (&m, rid, "the client went away");
      json_decref (rid);
    }
  return SQ_EXIT_OK;
}
