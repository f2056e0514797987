/* sandq mcp, tools/call: checking a call's arguments against its tool's
 * schema, packing its files into the input archive, and submitting the
 * job. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/base64.h>

#include "../common/archive.h"
#include "../common/cleanup.h"
#include "../common/spec.h"
#include "../common/util.h"
#include "cli.h"
#include "mcp.h"

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
    return mcp_tool_error ("arguments: must be an object with '%s'", main_key);
  json_object_foreach (args, k, v)
  {
    if (strcmp (k, main_key) && strcmp (k, "files") && strcmp (k, "network")
        && strcmp (k, "limits") && strcmp (k, "inputs"))
      return mcp_tool_error (
          "arguments.%.64s: unknown (allowed: %s, files, inputs, network, limits)", k,
          main_key);
  }
  v = json_object_get (args, main_key);
  if (!json_is_string (v) || json_string_length (v) == 0)
    return mcp_tool_error ("arguments.%s: required, a non-empty string", main_key);
  if (strlen (json_string_value (v)) != json_string_length (v))
    return mcp_tool_error ("arguments.%s: must not contain NUL", main_key);
  v = json_object_get (args, "limits");
  *has_limits = v != NULL;
  if (v)
    {
      if (!json_is_object (v))
        return mcp_tool_error ("arguments.limits: must be an object");
      json_t *lim = v, *lv;
      json_object_foreach (lim, k, lv)
      {
        long long max = strcmp (k, "memory_mb") == 0 ? 1048576 : 86400;
        long long min = strcmp (k, "memory_mb") == 0 ? 4 : 1;
        if (strcmp (k, "memory_mb") && strcmp (k, "wall_seconds")
            && strcmp (k, "cpu_seconds"))
          return mcp_tool_error (
              "arguments.limits.%.64s: unknown (allowed: memory_mb, wall_seconds, "
              "cpu_seconds)",
              k);
        if (!json_is_integer (lv) || json_integer_value (lv) < min
            || json_integer_value (lv) > max)
          return mcp_tool_error (
              "arguments.limits.%s: must be a whole number from %lld to "
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
    return mcp_tool_error ("arguments.files: must be an array of at most %d files",
                           MCP_MAX_FILES);
  if (!code && (!files || json_array_size (files) == 0))
    return NULL;
  pk = sq_packer_new (MCP_MAX_INPUT, &err);
  if (!pk)
    return mcp_tool_error ("sandq could not pack the files: %s", err.msg);
  if (code && sq_packer_add_mem (pk, "main.py", code, strlen (code), &err) < 0)
    goto fail;
  json_array_foreach (files, i, f)
  {
    const char *k;
    json_t *v;
    if (!json_is_object (f))
      {
        sq_packer_free (pk);
        return mcp_tool_error ("arguments.files[%zu]: must be an object", i);
      }
    json_object_foreach (f, k, v) if (strcmp (k, "path") && strcmp (k, "text")
                                      && strcmp (k, "base64"))
    {
      sq_packer_free (pk);
      return mcp_tool_error ("arguments.files[%zu].%.64s: unknown (allowed: path, text, "
                             "base64)",
                             i, k);
    }
    json_t *path = json_object_get (f, "path"), *text = json_object_get (f, "text"),
           *b64 = json_object_get (f, "base64");
    if (!json_is_string (path) || !sq_rel_path_ok (json_string_value (path), 1024, 1)
        || strlen (json_string_value (path)) != json_string_length (path))
      {
        sq_packer_free (pk);
        return mcp_tool_error ("arguments.files[%zu].path: a relative path under /work, "
                               "without '..' or control characters",
                               i);
      }
    if ((text && b64) || (text && !json_is_string (text))
        || (b64 && !json_is_string (b64)))
      {
        sq_packer_free (pk);
        return mcp_tool_error (
            "arguments.files[%zu]: give text or base64 (a string), not "
            "both",
            i);
      }
    if (code && strcmp (json_string_value (path), "main.py") == 0)
      {
        sq_packer_free (pk);
        return mcp_tool_error ("arguments.files[%zu].path: main.py is the code itself",
                               i);
      }
    uint8_t *data = NULL;
    size_t dlen = 0;
    if (b64
        && base64_decode (json_string_value (b64), json_string_length (b64), &data, &dlen)
               < 0)
      {
        sq_packer_free (pk);
        return mcp_tool_error ("arguments.files[%zu].base64: not valid base64", i);
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
    return mcp_tool_error ("arguments.files: more than %u MiB together, packed",
                           MCP_MAX_INPUT >> 20);
  return mcp_tool_error ("sandq could not pack the files: %s", err.msg);
}

/* Submits a call's job; NULL when it is queued (call filled in), else the
 * tool result that says why not. */
json_t *
mcp_submit_call (struct mcp *m, const char *tool, json_t *args, struct call *call)
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
    return mcp_tool_error ("arguments.network: must be an array of profile names");
  json_array_foreach (net, i, v)
  {
    if (!json_is_string (v)
        || sq_spec_add_network (&spec, json_string_value (v), &err) < 0)
      return mcp_tool_error ("arguments.network[%zu]: %s", i,
                             err.msg[0] ? err.msg : "must be a string");
  }
  json_t *inputs = json_object_get (args, "inputs");
  if (inputs
      && (!json_is_array (inputs) || json_array_size (inputs) > SQ_SPEC_MAX_INPUTS))
    return mcp_tool_error ("arguments.inputs: must be an array of at most %d job ids",
                           SQ_SPEC_MAX_INPUTS);
  json_array_foreach (inputs, i, v)
  {
    if (!json_is_string (v))
      return mcp_tool_error ("arguments.inputs[%zu]: must be a string, ID or ID:PATH", i);
    int r = cli_chain_input (m->c, &spec, m->queue, json_string_value (v),
                             SQ_DEFAULT_TTL_MS, &err);
    if (r < 0)
      return mcp_tool_error ("arguments.inputs[%zu]: %s", i, err.msg);
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
      return mcp_tool_error ("sandq could not build the job spec");
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
    return mcp_tool_error ("sandq could not queue the job: %s", err.msg);
  fprintf (stderr, "sandq mcp: %s: job %s queued in %s\n", tool, call->id, call->queue);
  snprintf (call->state, sizeof call->state, "queued");
  call->started_ms = call->last_progress_ms = sq_now_ms ();
  return NULL;
}
