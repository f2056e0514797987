/* sandq mcp: the answer to a finished tools/call (text, images, links to
 * the job's out/ files with their sizes and SHA-256) and resources/read,
 * which serves those files in pieces. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/sha2.h>

#include "../common/archive.h"
#include "../common/util.h"
#include "cli.h"
#include "mcp.h"

/* ---- The answer ---- */

struct collected
{
  char *out, *err;
  size_t out_len, err_len;
  uint64_t out_size, err_size;
  json_t *files, *images, *links;
  const char *queue, *id;
  int with_links;
};

static const char *
image_type (const char *path)
{
  const char *dot = strrchr (path, '.');
  if (!dot)
    return NULL;
  if (strcasecmp (dot, ".png") == 0)
    return "image/png";
  if (strcasecmp (dot, ".jpg") == 0 || strcasecmp (dot, ".jpeg") == 0)
    return "image/jpeg";
  if (strcasecmp (dot, ".gif") == 0)
    return "image/gif";
  if (strcasecmp (dot, ".webp") == 0)
    return "image/webp";
  return NULL;
}

static const char *
file_type (const char *path)
{
  const char *img = image_type (path), *dot = strrchr (path, '.');
  if (img)
    return img;
  if (dot && (strcasecmp (dot, ".csv") == 0))
    return "text/csv";
  if (dot && strcasecmp (dot, ".json") == 0)
    return "application/json";
  if (dot && (strcasecmp (dot, ".txt") == 0 || strcasecmp (dot, ".md") == 0))
    return "text/plain";
  if (dot && strcasecmp (dot, ".html") == 0)
    return "text/html";
  return "application/octet-stream";
}

static int
collect (const char *name, const void *data, uint64_t size, void *ctx)
{
  struct collected *k = ctx;
  if (strcmp (name, "stdout") == 0 || strcmp (name, "stderr") == 0)
    {
      int o = name[3] == 'o';
      size_t keep = size > MCP_TAIL ? MCP_TAIL : (size_t) size;
      char *tail = data ? malloc (keep + 1) : NULL;
      if (tail)
        {
          memcpy (tail, (const char *) data + (size - keep), keep);
          tail[keep] = '\0';
        }
      *(o ? &k->out : &k->err) = tail;
      *(o ? &k->out_len : &k->err_len) = tail ? keep : 0;
      *(o ? &k->out_size : &k->err_size) = size;
      return 0;
    }
  if (strncmp (name, "out/", 4) != 0 || json_array_size (k->files) >= MCP_MAX_LISTED)
    return 0;
  const char *path = name + 4;
  json_t *f = json_pack ("{s:s, s:I}", "path", path, "size", (json_int_t) size);
  if (data)
    {
      struct sha256_ctx sc;
      uint8_t d[SHA256_DIGEST_SIZE];
      char hex[2 * SHA256_DIGEST_SIZE + 1];
      sha256_init (&sc);
      sha256_update (&sc, (size_t) size, data);
      sha256_digest (&sc, sizeof d, d);
      for (size_t i = 0; i < sizeof d; i++)
        snprintf (hex + 2 * i, 3, "%02x", d[i]);
      json_object_set_new (f, "sha256", json_string (hex));
    }
  json_array_append_new (k->files, f);
  const char *img = image_type (path);
  if (img && data && size <= MCP_MAX_IMAGE
      && json_array_size (k->images) < MCP_MAX_IMAGES)
    {
      char *b = mcp_base64_encode (data, (size_t) size);
      if (b)
        json_array_append_new (k->images, json_pack ("{s:s, s:s, s:s}", "type", "image",
                                                     "data", b, "mimeType", img));
      free (b);
    }
  else if (k->with_links)
    {
      char uri[SQ_KEY_MAX + 1100];
      snprintf (uri, sizeof uri, "sandq://job/%s/%s/out/%s", k->queue, k->id, path);
      json_array_append_new (k->links, json_pack ("{s:s, s:s, s:s, s:s, s:I}", "type",
                                                  "resource_link", "uri", uri, "name",
                                                  path, "mimeType", file_type (path),
                                                  "size", (json_int_t) size));
    }
  return 0;
}

static void
append_stream (char **text, const char *name, const char *data, size_t len, uint64_t size)
{
  char *t = NULL;
  json_t *s = cli_json_text (data ? data : "", len); /* valid UTF-8 */
  if (size == 0)
    {
      if (asprintf (&t, "%s--- %s: empty\n", *text, name) < 0)
        t = NULL;
    }
  else
    {
      const char *v = json_string_value (s);
      size_t vl = strlen (v);
      const char *nl = vl && v[vl - 1] == '\n' ? "" : "\n";
      if (size > len)
        {
          if (asprintf (&t, "%s--- %s (the last %zu of %" PRIu64 " bytes) ---\n%s%s",
                        *text, name, len, size, v, nl)
              < 0)
            t = NULL;
        }
      else if (asprintf (&t, "%s--- %s ---\n%s%s", *text, name, v, nl) < 0)
        t = NULL;
    }
  json_decref (s);
  if (t)
    {
      free (*text);
      *text = t;
    }
}

/* The tool result of a final job. */
json_t *
mcp_final_result (struct mcp *m, struct call *call, json_t *job)
{
  const char *status = json_string_value (json_object_get (job, "status"));
  const char *message = json_string_value (json_object_get (job, "message"));
  json_t *ec = json_object_get (job, "exit_code");
  struct collected k = {
    .files = json_array (),
    .images = json_array (),
    .links = json_array (),
    .queue = call->queue,
    .id = call->id,
    .with_links = m->version <= 1, /* resource_link came with 2025-06-18 */
  };
  sq_err err = { 0 };

  if (!status)
    status = "unknown";
  if (!message)
    message = "";
  redisReply *rep = cli_result_get (m->c, call->queue, call->id, &err);
  if (rep && rep->type == REDIS_REPLY_STRING)
    sq_archive_each (rep->str, rep->len, MCP_MAX_OUT_FILE, collect, &k, &err);
  if (rep)
    freeReplyObject (rep);

  char *text = NULL;
  if (asprintf (&text, "%s: %s\n", status, message) < 0)
    text = NULL;
  if (text && json_is_integer (ec) && json_integer_value (ec) >= 0)
    {
      char *t;
      if (asprintf (&t, "%sexit code: %" JSON_INTEGER_FORMAT "\n", text,
                    json_integer_value (ec))
          >= 0)
        {
          free (text);
          text = t;
        }
    }
  if (text && (k.out_size || k.err_size || k.out || k.err))
    {
      append_stream (&text, "stdout", k.out, k.out_len, k.out_size);
      append_stream (&text, "stderr", k.err, k.err_len, k.err_size);
    }
  if (text && json_array_size (k.files))
    {
      size_t i;
      json_t *f;
      json_array_foreach (k.files, i, f)
      {
        char *t;
        if (asprintf (&t, "%s%s out/%s (%" JSON_INTEGER_FORMAT " bytes)\n", text,
                      i ? "" : "files:\n",
                      json_string_value (json_object_get (f, "path")),
                      json_integer_value (json_object_get (f, "size")))
            >= 0)
          {
            free (text);
            text = t;
          }
      }
    }
  json_t *content = json_array ();
  json_array_append_new (
      content, json_pack ("{s:s, s:s}", "type", "text", "text", text ? text : status));
  free (text);
  json_array_extend (content, k.images);
  json_array_extend (content, k.links);
  json_t *res = json_pack ("{s:o, s:b}", "content", content, "isError",
                           strcmp (status, "ok") != 0);
  if (m->version <= 1) /* structuredContent came with 2025-06-18 */
    {
      json_t *sc = json_pack (
          "{s:s, s:s, s:s, s:s, s:O, s:o}", "job_id", call->id, "queue", call->queue,
          "status", status, "message", message, "exit_code",
          json_is_integer (ec) && json_integer_value (ec) >= 0 ? ec : json_null (),
          "files", json_incref (k.files));
      static const char *const figs[]
          = { "wall_ms", "cpu_ms", "memory_peak_bytes", NULL };
      for (int i = 0; figs[i]; i++)
        if (json_is_integer (json_object_get (job, figs[i])))
          json_object_set (sc, figs[i], json_object_get (job, figs[i]));
      json_object_set_new (res, "structuredContent", sc);
    }
  json_decref (k.files);
  json_decref (k.images);
  json_decref (k.links);
  free (k.out);
  free (k.err);
  return res;
}

/* ---- resources/read ---- */

json_t *
mcp_read_resource (struct mcp *m, json_t *id, json_t *params)
{
  const char *uri = json_string_value (json_object_get (params, "uri"));
  char queue[SQ_QUEUE_MAX + 1], job[SQ_ID_MAX + 1], path[1100];
  unsigned long long offset = 0;
  sq_err err = { 0 };
  int n = 0;

  if (!uri
      || sscanf (uri, "sandq://job/%64[^/]/%128[^/]/out/%1024[^?]%n", queue, job, path,
                 &n)
             != 3
      || !sq_valid_name (queue, SQ_QUEUE_MAX) || !sq_valid_name (job, SQ_ID_MAX)
      || !sq_rel_path_ok (path, 1024, 1)
      || (uri[n] && sscanf (uri + n, "?offset=%llu", &offset) != 1))
    {
      mcp_reply_error (id, -32602,
                       "resources/read: the uri must be sandq://job/QUEUE/ID/out/PATH"
                       "[?offset=N], as a tool result gave it");
      return NULL;
    }
  redisReply *rep = cli_result_get (m->c, queue, job, &err);
  if (!rep)
    {
      mcp_reply_error (id, -32603, "resources/read: %s", err.msg);
      return NULL;
    }
  if (rep->type != REDIS_REPLY_STRING)
    {
      freeReplyObject (rep);
      mcp_reply_error (id, -32002, "resources/read: job '%s' has no result (expired?)",
                       job);
      return NULL;
    }
  char member[1200];
  size_t len = 0;
  snprintf (member, sizeof member, "out/%s", path);
  char *data
      = sq_archive_read_member (rep->str, rep->len, member, MCP_MAX_OUT_FILE, &len, &err);
  freeReplyObject (rep);
  if (!data)
    {
      mcp_reply_error (id, -32002, "resources/read: %s", err.msg);
      return NULL;
    }
  if (offset > len)
    offset = len;
  size_t piece = len - offset > MCP_PIECE ? MCP_PIECE : len - offset;
  const char *type = file_type (path);
  json_t *c = json_pack ("{s:s, s:s}", "uri", uri, "mimeType", type);
  json_t *txt = strncmp (type, "text/", 5) == 0 || strcmp (type, "application/json") == 0
                    ? json_stringn (data + offset, piece)
                    : NULL;
  if (txt)
    json_object_set_new (c, "text", txt);
  else
    {
      char *b = mcp_base64_encode (data + offset, piece);
      json_object_set_new (c, "blob", json_string (b ? b : ""));
      free (b);
    }
  free (data);
  json_t *meta = json_pack ("{s:I, s:I}", "sandq/size", (json_int_t) len, "sandq/offset",
                            (json_int_t) offset);
  if (offset + piece < len)
    {
      char next[1400];
      snprintf (next, sizeof next, "sandq://job/%s/%s/out/%s?offset=%llu", queue, job,
                path, (unsigned long long) (offset + piece));
      json_object_set_new (meta, "sandq/next", json_string (next));
    }
  json_object_set_new (c, "_meta", meta);
  return json_pack ("{s:[o]}", "contents", c);
}
