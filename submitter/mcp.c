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
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/base64.h>
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

/* A tool result that is an error the model can act on. */
static json_t *
tool_error (const char *fmt, ...)
{
  char msg[600];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return json_pack ("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg,
                    "isError", 1);
}

/* ---- tools/call: checking, packing, submitting ---- */

static int
base64_decode (const char *s, size_t len, uint8_t **out, size_t *outlen)
{
  struct base64_decode_ctx ctx;
  size_t n = BASE64_DECODE_LENGTH (len);
  *out = malloc (n ? n : 1);
  if (!*out)
    return -1;
  base64_decode_init (&ctx);
  if (!base64_decode_update (&ctx, &n, *out, len, s) || !base64_decode_final (&ctx))
    {
      free (*out);
      *out = NULL;
      return -1;
    }
  *outlen = n;
  return 0;
}

char *
mcp_base64_encode (const void *data, size_t len)
{
  char *s = malloc (BASE64_ENCODE_RAW_LENGTH (len) + 1);
  if (!s)
    return NULL;
  base64_encode_raw (s, len, data);
  s[BASE64_ENCODE_RAW_LENGTH (len)] = '\0';
  return s;
}

/* Checks arguments against the tool's schema (which says the same);
 * NULL if fine, else a tool error. */
static json_t *
check_args (json_t *args, const char *main_key, int *has_limits)
{
  const char *k;
  json_t *v;

  if (!json_is_object (args))
    return tool_error ("arguments: must be an object with '%s'", main_key);
  json_object_foreach (args, k, v)
  {
    if (strcmp (k, main_key) && strcmp (k, "files") && strcmp (k, "network")
        && strcmp (k, "limits") && strcmp (k, "inputs"))
      return tool_error (
          "arguments.%.64s: unknown (allowed: %s, files, inputs, network, limits)", k,
          main_key);
  }
  v = json_object_get (args, main_key);
  if (!json_is_string (v) || json_string_length (v) == 0)
    return tool_error ("arguments.%s: required, a non-empty string", main_key);
  if (strlen (json_string_value (v)) != json_string_length (v))
    return tool_error ("arguments.%s: must not contain NUL", main_key);
  v = json_object_get (args, "limits");
  *has_limits = v != NULL;
  if (v)
    {
      if (!json_is_object (v))
        return tool_error ("arguments.limits: must be an object");
      json_t *lim = v, *lv;
      json_object_foreach (lim, k, lv)
      {
        long long max = strcmp (k, "memory_mb") == 0 ? 1048576 : 86400;
        long long min = strcmp (k, "memory_mb") == 0 ? 4 : 1;
        if (strcmp (k, "memory_mb") && strcmp (k, "wall_seconds")
            && strcmp (k, "cpu_seconds"))
          return tool_error (
              "arguments.limits.%.64s: unknown (allowed: memory_mb, wall_seconds, "
              "cpu_seconds)",
              k);
        if (!json_is_integer (lv) || json_integer_value (lv) < min
            || json_integer_value (lv) > max)
          return tool_error ("arguments.limits.%s: must be a whole number from %lld to "
                             "%lld",
                             k, min, max);
      }
    }
  return NULL;
}

/* The input archive: main.py (run_python) and the files. */
static json_t *
pack_files (json_t *args, const char *code, void **input, size_t *ilen)
{
  sq_err err = { 0 };
  json_t *files = json_object_get (args, "files");
  struct sq_packer *pk;
  size_t i;
  json_t *f;

  *input = NULL;
  *ilen = 0;
  if (files && (!json_is_array (files) || json_array_size (files) > MCP_MAX_FILES))
    return tool_error ("arguments.files: must be an array of at most %d files",
                       MCP_MAX_FILES);
  if (!code && (!files || json_array_size (files) == 0))
    return NULL;
  pk = sq_packer_new (MCP_MAX_INPUT, &err);
  if (!pk)
    return tool_error ("sandq could not pack the files: %s", err.msg);
  if (code && sq_packer_add_mem (pk, "main.py", code, strlen (code), &err) < 0)
    goto fail;
  json_array_foreach (files, i, f)
  {
    const char *k;
    json_t *v;
    if (!json_is_object (f))
      {
        sq_packer_free (pk);
        return tool_error ("arguments.files[%zu]: must be an object", i);
      }
    json_object_foreach (f, k, v) if (strcmp (k, "path") && strcmp (k, "text")
                                      && strcmp (k, "base64"))
    {
      sq_packer_free (pk);
      return tool_error ("arguments.files[%zu].%.64s: unknown (allowed: path, text, "
                         "base64)",
                         i, k);
    }
    json_t *path = json_object_get (f, "path"), *text = json_object_get (f, "text"),
           *b64 = json_object_get (f, "base64");
    if (!json_is_string (path) || !sq_rel_path_ok (json_string_value (path), 1024, 1)
        || strlen (json_string_value (path)) != json_string_length (path))
      {
        sq_packer_free (pk);
        return tool_error ("arguments.files[%zu].path: a relative path under /work, "
                           "without '..' or control characters",
                           i);
      }
    if ((text && b64) || (text && !json_is_string (text))
        || (b64 && !json_is_string (b64)))
      {
        sq_packer_free (pk);
        return tool_error ("arguments.files[%zu]: give text or base64 (a string), not "
                           "both",
                           i);
      }
    if (code && strcmp (json_string_value (path), "main.py") == 0)
      {
        sq_packer_free (pk);
        return tool_error ("arguments.files[%zu].path: main.py is the code itself", i);
      }
    uint8_t *data = NULL;
    size_t dlen = 0;
    if (b64
        && base64_decode (json_string_value (b64), json_string_length (b64), &data, &dlen)
               < 0)
      {
        sq_packer_free (pk);
        return tool_error ("arguments.files[%zu].base64: not valid base64", i);
      }
    int r = sq_packer_add_mem (pk, json_string_value (path),
                               b64    ? (const void *) data
                               : text ? json_string_value (text)
                                      : "",
                               b64    ? dlen
                               : text ? json_string_length (text)
                                      : 0,
                               &err);
    free (data);
    if (r < 0)
      goto fail;
  }
  if (sq_packer_finish (pk, input, ilen, &err) == 0)
    return NULL;
  pk = NULL;
fail:
  if (pk)
    sq_packer_free (pk);
  if (err.code == EFBIG)
    return tool_error ("arguments.files: more than %u MiB together, packed",
                       MCP_MAX_INPUT >> 20);
  return tool_error ("sandq could not pack the files: %s", err.msg);
}

/* Submits a call's job; NULL when it is queued (call filled in), else the
 * tool result that says why not. */
static json_t *
submit_call (struct mcp *m, const char *tool, json_t *args, struct call *call)
{
  const char *main_key = strcmp (tool, "run_python") == 0 ? "code" : "command";
  struct sq_spec spec = { 0 };
  sq_err err = { 0 };
  int has_limits;
  json_t *bad = check_args (args, main_key, &has_limits);
  size_t i;
  json_t *v;

  if (bad)
    return bad;
  const char *text = json_string_value (json_object_get (args, main_key));
  char *py[] = { "python3", "main.py", NULL };
  char *sh[] = { "sh", "-c", (char *) text, NULL };
  spec.argv = strcmp (main_key, "code") == 0 ? py : sh;
  spec.argc = strcmp (main_key, "code") == 0 ? 2 : 3;
  json_t *net = json_object_get (args, "network");
  if (net && !json_is_array (net))
    return tool_error ("arguments.network: must be an array of profile names");
  json_array_foreach (net, i, v)
  {
    if (!json_is_string (v)
        || sq_spec_add_network (&spec, json_string_value (v), &err) < 0)
      return tool_error ("arguments.network[%zu]: %s", i,
                         err.msg[0] ? err.msg : "must be a string");
  }
  json_t *inputs = json_object_get (args, "inputs");
  if (inputs
      && (!json_is_array (inputs) || json_array_size (inputs) > SQ_SPEC_MAX_INPUTS))
    return tool_error ("arguments.inputs: must be an array of at most %d job ids",
                       SQ_SPEC_MAX_INPUTS);
  json_array_foreach (inputs, i, v)
  {
    if (!json_is_string (v))
      return tool_error ("arguments.inputs[%zu]: must be a string, ID or ID:PATH", i);
    int r = cli_chain_input (m->c, &spec, m->queue, json_string_value (v),
                             SQ_DEFAULT_TTL_MS, &err);
    if (r < 0)
      return tool_error ("arguments.inputs[%zu]: %s", i, err.msg);
  }
  if (has_limits)
    {
      json_t *l = json_object_get (args, "limits");
      if ((v = json_object_get (l, "memory_mb")))
        spec.limits[SQ_LIM_MEMORY] = (uint64_t) json_integer_value (v) << 20;
      if ((v = json_object_get (l, "wall_seconds")))
        spec.limits[SQ_LIM_WALL] = (uint64_t) json_integer_value (v) * 1000;
      if ((v = json_object_get (l, "cpu_seconds")))
        spec.limits[SQ_LIM_CPU] = (uint64_t) json_integer_value (v) * 1000;
    }
  void *input;
  size_t ilen;
  if ((bad
       = pack_files (args, strcmp (main_key, "code") == 0 ? text : NULL, &input, &ilen)))
    return bad;
  cleanup_free char *spec_json = sq_spec_to_json (&spec);
  if (!spec_json)
    {
      free (input);
      return tool_error ("sandq could not build the job spec");
    }
  cli_new_id (call->id);
  snprintf (call->queue, sizeof call->queue, "%s", m->queue);
  struct sq_submit_args a = {
    .queue = call->queue,
    .id = call->id,
    .spec_json = spec_json,
    .input = input ? input : "",
    .input_len = ilen,
    .ttl_ms = SQ_DEFAULT_TTL_MS,
    .keep_s = SQ_DEFAULT_KEEP_S,
    .priority = SQ_PRIO_HIGH,
    .max_attempts = SQ_DEFAULT_MAX_ATTEMPTS,
    .submitter = "mcp",
  };
  char state[32];
  int r = sq_submit_job (&m->c->p, &a, state, sizeof state, &err);
  free (input);
  if (r < 0)
    return tool_error ("sandq could not queue the job: %s", err.msg);
  fprintf (stderr, "sandq mcp: %s: job %s queued in %s\n", tool, call->id, call->queue);
  snprintf (call->state, sizeof call->state, "queued");
  call->started_ms = call->last_progress_ms = sq_now_ms ();
  return NULL;
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
          reply (call->rpc_id, tool_error ("job %s is gone from queue %s (expired?)",
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
    {
      const char *want = json_string_value (json_object_get (params, "protocolVersion"));
      m->version = 0;
      for (int i = 0; want && versions[i]; i++)
        if (strcmp (want, versions[i]) == 0)
          m->version = i;
      reply (id, json_pack ("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s}, s:s}",
                            "protocolVersion", versions[m->version], "capabilities",
                            "tools", "listChanged", 0, "resources", "serverInfo", "name",
                            "sandq", "version", SANDQ_VERSION, "instructions",
                            "run_python and run_shell run code in a sandbox on the sandq "
                            "fleet, next to the data. Each call is a fresh sandbox: "
                            "pass the files a step needs. Write result files to "
                            "/work/out; images there are returned as images."));
      return;
    }
  if (strcmp (method, "ping") == 0)
    {
      reply (id, json_object ());
      return;
    }
  if (strcmp (method, "tools/list") == 0)
    {
      reply (id, json_pack ("{s:o}", "tools", tools_list ()));
      return;
    }
  if (strcmp (method, "resources/list") == 0)
    {
      reply (id, json_pack ("{s:[]}", "resources"));
      return;
    }
  if (strcmp (method, "resources/read") == 0)
    {
      json_t *r = mcp_read_resource (m, id, params);
      if (r)
        reply (id, r);
      return;
    }
  if (strcmp (method, "tools/call") == 0)
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
      json_t *bad = submit_call (m, name, args ? args : none, call);
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
      return;
    }
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
