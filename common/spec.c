#define _GNU_SOURCE
#include "spec.h"
#include "seal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const sq_limit_names[SQ_LIM__COUNT] = {
  [SQ_LIM_MEMORY] = "memory_bytes", [SQ_LIM_CPU] = "cpu_ms",
  [SQ_LIM_WALL] = "wall_ms",        [SQ_LIM_PIDS] = "pids",
  [SQ_LIM_OUTPUT] = "output_bytes", [SQ_LIM_DISK] = "disk_bytes",
  [SQ_LIM_INODES] = "disk_inodes",  [SQ_LIM_MILLICORES] = "cpu_millicores",
};

void
sq_spec_policy_default (struct sq_spec_policy *p)
{
  p->max[SQ_LIM_MEMORY] = 8ULL << 30;
  p->max[SQ_LIM_CPU] = 6ULL * 3600 * 1000;
  p->max[SQ_LIM_WALL] = 6ULL * 3600 * 1000;
  p->max[SQ_LIM_PIDS] = 4096;
  p->max[SQ_LIM_OUTPUT] = 1ULL << 30;
  p->max[SQ_LIM_DISK] = 8ULL << 30;
  p->max[SQ_LIM_INODES] = 1 << 20;
  p->max[SQ_LIM_MILLICORES] = 64000;
}

static int
env_name_ok (const char *s, size_t n)
{
  if (n == 0 || n > SQ_SPEC_MAX_ENV_NAME)
    return 0;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
      if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
        return 0;
    }
  return 1;
}

int
sq_spec_add_env (struct sq_spec *s, const char *kv, sq_err *err)
{
  const char *eq = strchr (kv, '=');
  char **n;

  if (!eq || !env_name_ok (kv, eq - kv))
    return sq_err_set (err, 0,
                       "env '%.64s': the name must match "
                       "[A-Za-z_][A-Za-z0-9_]* (at most %d chars)",
                       kv, SQ_SPEC_MAX_ENV_NAME);
  if (eq - kv == 4 && strncmp (kv, "PATH", 4) == 0)
    return sq_err_set (err, 0, "env 'PATH': the sandbox's PATH is fixed");
  if (strlen (eq + 1) > SQ_SPEC_MAX_ENV_VALUE)
    return sq_err_set (err, 0, "env '%.*s': the value is longer than %d bytes",
                       (int) (eq - kv), kv, SQ_SPEC_MAX_ENV_VALUE);
  if (s->nenv >= SQ_SPEC_MAX_ENV)
    return sq_err_set (err, 0, "env: more than %d variables", SQ_SPEC_MAX_ENV);
  n = realloc (s->env, (s->nenv + 2) * sizeof *n);
  if (!n)
    return sq_err_set (err, ENOMEM, "env");
  s->env = n;
  s->env[s->nenv] = strdup (kv);
  if (!s->env[s->nenv])
    return sq_err_set (err, ENOMEM, "env");
  s->env[++s->nenv] = NULL;
  return 0;
}

void
sq_spec_free (struct sq_spec *s)
{
  for (int i = 0; i < s->argc; i++)
    free (s->argv[i]);
  for (int i = 0; i < s->nenv; i++)
    free (s->env[i]);
  free (s->argv);
  free (s->env);
  memset (s, 0, sizeof *s);
}

static int
parse_command (json_t *cmd, struct sq_spec *s, sq_err *err)
{
  size_t n, total = 0;

  if (!json_is_array (cmd))
    return sq_err_set (err, 0, "spec.command: must be an array of strings");
  n = json_array_size (cmd);
  if (n == 0 || n > SQ_SPEC_MAX_ARGS)
    return sq_err_set (err, 0, "spec.command: must have 1 to %d elements",
                       SQ_SPEC_MAX_ARGS);
  s->argv = calloc (n + 1, sizeof *s->argv);
  if (!s->argv)
    return sq_err_set (err, ENOMEM, "spec.command");
  for (size_t i = 0; i < n; i++)
    {
      json_t *a = json_array_get (cmd, i);
      size_t len;
      if (!json_is_string (a))
        return sq_err_set (err, 0, "spec.command[%zu]: must be a string", i);
      len = json_string_length (a);
      if (len > SQ_SPEC_MAX_ARG_BYTES || memchr (json_string_value (a), 0, len))
        return sq_err_set (err, 0,
                           "spec.command[%zu]: must be at most %d bytes "
                           "without NUL",
                           i, SQ_SPEC_MAX_ARG_BYTES);
      if (i == 0 && len == 0)
        return sq_err_set (err, 0, "spec.command[0]: must not be empty");
      total += len;
      s->argv[i] = strdup (json_string_value (a));
      if (!s->argv[i])
        return sq_err_set (err, ENOMEM, "spec.command");
      s->argc = i + 1;
    }
  if (total > 64 * 1024)
    return sq_err_set (err, 0, "spec.command: more than 64 KiB in all");
  return 0;
}

int
sq_spec_add_network (struct sq_spec *s, const char *name, sq_err *err)
{
  size_t n = strlen (name);

  if (n == 0 || n > SQ_NETWORK_NAME_MAX
      || strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
    return sq_err_set (err, 0, "network '%.64s': a profile's name is 1-%d of [a-z0-9_-]",
                       name, SQ_NETWORK_NAME_MAX);
  for (int i = 0; i < s->nnetworks; i++)
    if (strcmp (s->networks[i], name) == 0)
      return 0;
  if (s->nnetworks >= SQ_SPEC_MAX_NETWORKS)
    return sq_err_set (err, 0, "network: more than %d profiles", SQ_SPEC_MAX_NETWORKS);
  memcpy (s->networks[s->nnetworks++], name, n + 1);
  return 0;
}

int
sq_spec_add_input (struct sq_spec *s, const char *job, size_t jlen, const char *path,
                   sq_err *err)
{
  char id[SQ_SPEC_ID_MAX + 1];
  if (jlen == 0 || jlen > SQ_SPEC_ID_MAX)
    return sq_err_set (err, 0, "input '%.64s': a job id is 1-%d characters", job,
                       SQ_SPEC_ID_MAX);
  memcpy (id, job, jlen);
  id[jlen] = '\0';
  if (!sq_valid_name (id, SQ_SPEC_ID_MAX))
    return sq_err_set (err, 0, "input '%.64s': not a job id ([A-Za-z0-9._:-])", id);
  if (!sq_rel_path_ok (path, SQ_INPUT_PATH_MAX, 0))
    return sq_err_set (err, 0,
                       "input '%.64s:%.64s': the path is one under the job's out/, "
                       "relative, without '..', at most %d bytes",
                       id, path, SQ_INPUT_PATH_MAX);
  if (s->ninputs >= SQ_SPEC_MAX_INPUTS)
    return sq_err_set (err, 0, "inputs: more than %d earlier jobs", SQ_SPEC_MAX_INPUTS);
  struct sq_spec_input *in = &s->inputs[s->ninputs++];
  snprintf (in->job, sizeof in->job, "%s", id);
  /* "a//b/" is "a/b": the unpacker compares normalized paths. */
  size_t o = 0;
  for (const char *c = path; *c;)
    {
      size_t l = strcspn (c, "/");
      if (l)
        {
          if (o)
            in->path[o++] = '/';
          memcpy (in->path + o, c, l);
          o += l;
        }
      c += l + (c[l] == '/');
    }
  in->path[o] = '\0';
  return 0;
}

static int
parse_inputs (json_t *in, struct sq_spec *s, sq_err *err)
{
  size_t i;
  json_t *v;

  if (!json_is_array (in))
    return sq_err_set (err, 0,
                       "spec.inputs: must be an array of {\"job\": ID, \"path\": "
                       "PATH}");
  json_array_foreach (in, i, v)
  {
    json_t *job = json_object_get (v, "job"), *path = json_object_get (v, "path");
    const char *k;
    json_t *x;
    if (!json_is_object (v) || !json_is_string (job) || (path && !json_is_string (path)))
      return sq_err_set (err, 0,
                         "spec.inputs[%zu]: must be {\"job\": ID, \"path\": PATH}", i);
    json_object_foreach (v, k, x) if (strcmp (k, "job") && strcmp (k, "path"))
    {
      return sq_err_set (err, 0, "spec.inputs[%zu].%.64s: unknown field", i, k);
    }
    if (strlen (json_string_value (job)) != json_string_length (job)
        || (path && strlen (json_string_value (path)) != json_string_length (path)))
      return sq_err_set (err, 0, "spec.inputs[%zu]: must not contain NUL", i);
    if (sq_spec_add_input (s, json_string_value (job), json_string_length (job),
                           path ? json_string_value (path) : "", err)
        < 0)
      return sq_err_wrap (err, "spec.inputs[%zu]", i);
  }
  return 0;
}

static int
parse_network (json_t *net, struct sq_spec *s, sq_err *err)
{
  size_t i;
  json_t *v;

  if (!json_is_array (net))
    return sq_err_set (err, 0, "spec.network: must be an array of profile names");
  json_array_foreach (net, i, v)
  {
    if (!json_is_string (v) || strlen (json_string_value (v)) != json_string_length (v))
      return sq_err_set (err, 0, "spec.network[%zu]: must be a string without NUL", i);
    if (sq_spec_add_network (s, json_string_value (v), err) < 0)
      return sq_err_wrap (err, "spec");
  }
  return 0;
}

static int
parse_env (json_t *env, struct sq_spec *s, sq_err *err)
{
  const char *k;
  json_t *v;

  if (!json_is_object (env))
    return sq_err_set (err, 0, "spec.env: must be an object of strings");
  json_object_foreach (env, k, v)
  {
    char *kv;
    size_t vlen;
    if (!json_is_string (v))
      return sq_err_set (err, 0, "spec.env.%.64s: must be a string", k);
    vlen = json_string_length (v);
    if (memchr (json_string_value (v), 0, vlen))
      return sq_err_set (err, 0, "spec.env.%.64s: must not contain NUL", k);
    if (asprintf (&kv, "%s=%s", k, json_string_value (v)) < 0)
      return sq_err_set (err, ENOMEM, "spec.env");
    int r = sq_spec_add_env (s, kv, err);
    free (kv);
    if (r < 0)
      return sq_err_wrap (err, "spec");
  }
  return 0;
}

static int
parse_limits (json_t *lim, const struct sq_spec_policy *pol, struct sq_spec *s,
              sq_err *err)
{
  const char *k;
  json_t *v;

  if (!json_is_object (lim))
    return sq_err_set (err, 0, "spec.limits: must be an object");
  json_object_foreach (lim, k, v)
  {
    int which = -1;
    json_int_t x;
    for (int i = 0; i < SQ_LIM__COUNT; i++)
      if (strcmp (k, sq_limit_names[i]) == 0)
        which = i;
    if (which < 0)
      return sq_err_set (err, 0, "spec.limits.%.64s: unknown limit", k);
    if (!json_is_integer (v))
      return sq_err_set (err, 0, "spec.limits.%s: must be a whole number", k);
    x = json_integer_value (v);
    if (x < 0)
      return sq_err_set (err, 0, "spec.limits.%s: must not be negative", k);
    if (pol && (uint64_t) x > pol->max[which])
      return sq_err_set (err, 0,
                         "spec.limits.%s: %" PRId64 " is over this "
                         "worker's maximum of %" PRIu64,
                         k, (int64_t) x, pol->max[which]);
    s->limits[which] = (uint64_t) x;
  }
  return 0;
}

int
sq_spec_parse (const char *json, size_t len, const struct sq_spec_policy *pol,
               struct sq_spec *s, sq_err *err)
{
  json_error_t je;
  json_t *root, *v;
  const char *k;
  int r = -1;

  memset (s, 0, sizeof *s);
  if (len > SQ_SPEC_MAX_BYTES)
    {
      sq_err_set (err, 0, "spec: %zu bytes is more than the limit of %d", len,
                  SQ_SPEC_MAX_BYTES);
      return sq_err_input (err);
    }
  root = json_loadb (json, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    {
      sq_err_set (err, 0, "spec: invalid JSON at line %d column %d: %s", je.line,
                  je.column, je.text);
      return sq_err_input (err);
    }
  if (!json_is_object (root))
    {
      sq_err_set (err, 0, "spec: must be a JSON object");
      goto out;
    }
  json_object_foreach (root, k, v) if (strcmp (k, "version") && strcmp (k, "command")
                                       && strcmp (k, "env") && strcmp (k, "limits")
                                       && strcmp (k, "network") && strcmp (k, "inputs")
                                       && strcmp (k, "seal_to"))
  {
    sq_err_set (err, 0, "spec.%.64s: unknown field", k);
    goto out;
  }
  v = json_object_get (root, "version");
  if (!json_is_integer (v) || json_integer_value (v) != SQ_SPEC_VERSION)
    {
      sq_err_set (err, 0, "spec.version: must be %d", SQ_SPEC_VERSION);
      goto out;
    }
  v = json_object_get (root, "command");
  if (!v)
    {
      sq_err_set (err, 0, "spec.command: missing");
      goto out;
    }
  if (parse_command (v, s, err) < 0)
    goto out;
  if ((v = json_object_get (root, "env")) && parse_env (v, s, err) < 0)
    goto out;
  if ((v = json_object_get (root, "limits")) && parse_limits (v, pol, s, err) < 0)
    goto out;
  if ((v = json_object_get (root, "network")) && parse_network (v, s, err) < 0)
    goto out;
  if ((v = json_object_get (root, "inputs")) && parse_inputs (v, s, err) < 0)
    goto out;
  if ((v = json_object_get (root, "seal_to")))
    {
      if (!json_is_string (v)
          || sq_seal_parse_key (json_string_value (v), s->seal_to, "spec.seal_to", err)
                 < 0)
        {
          if (!json_is_string (v))
            sq_err_set (err, 0, "spec.seal_to: must be a string of 64 hex digits");
          goto out;
        }
      s->sealed = 1;
    }
  r = 0;
out:
  json_decref (root);
  if (r < 0)
    {
      sq_spec_free (s);
      /* Every refusal above is the spec's (what it holds, against the
       * policy); none is the host's. */
      sq_err_input (err);
    }
  return r;
}

char *
sq_spec_to_json (const struct sq_spec *s)
{
  json_t *root = json_object (), *cmd = json_array (), *env = json_object (),
         *lim = json_object ();
  char *out;

  json_object_set_new (root, "version", json_integer (SQ_SPEC_VERSION));
  for (int i = 0; i < s->argc; i++)
    json_array_append_new (cmd, json_string (s->argv[i]));
  json_object_set_new (root, "command", cmd);
  for (int i = 0; i < s->nenv; i++)
    {
      const char *eq = strchr (s->env[i], '=');
      char name[SQ_SPEC_MAX_ENV_NAME + 1];
      snprintf (name, sizeof name, "%.*s", (int) (eq - s->env[i]), s->env[i]);
      json_object_set_new (env, name, json_string (eq + 1));
    }
  json_object_set_new (root, "env", env);
  for (int i = 0; i < SQ_LIM__COUNT; i++)
    if (s->limits[i])
      json_object_set_new (lim, sq_limit_names[i],
                           json_integer ((json_int_t) s->limits[i]));
  json_object_set_new (root, "limits", lim);
  if (s->ninputs)
    {
      json_t *in = json_array ();
      for (int i = 0; i < s->ninputs; i++)
        {
          json_t *o = json_pack ("{s:s}", "job", s->inputs[i].job);
          if (s->inputs[i].path[0])
            json_object_set_new (o, "path", json_string (s->inputs[i].path));
          json_array_append_new (in, o);
        }
      json_object_set_new (root, "inputs", in);
    }
  if (s->nnetworks)
    {
      json_t *net = json_array ();
      for (int i = 0; i < s->nnetworks; i++)
        json_array_append_new (net, json_string (s->networks[i]));
      json_object_set_new (root, "network", net);
    }
  if (s->sealed)
    {
      char hex[65];
      sq_seal_key_hex (s->seal_to, hex);
      json_object_set_new (root, "seal_to", json_string (hex));
    }
  out = json_dumps (root, JSON_COMPACT);
  json_decref (root);
  return out;
}
