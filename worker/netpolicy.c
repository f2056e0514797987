/* The worker's network profiles (netpolicy.h). */
#define _GNU_SOURCE
#include "netpolicy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cleanup.h"
#include "../common/util.h"

static int
profile_index (const struct net_config *nc, const char *name, size_t len)
{
  for (int i = 0; i < nc->nprofiles; i++)
    if (strlen (nc->profiles[i].name) == len
        && strncmp (nc->profiles[i].name, name, len) == 0)
      return i;
  return -1;
}

static int
name_ok (const char *s, size_t n)
{
  return n >= 1 && n <= SQ_NETWORK_NAME_MAX
         && strspn (s, "abcdefghijklmnopqrstuvwxyz0123456789_-") >= n;
}

/* Calls fn for each name of a "a, b" list; stops at the first error. */
static int
each_name (const char *list, int (*fn) (const char *, size_t, void *), void *ctx)
{
  const char *p = list;
  while (*p)
    {
      p += strspn (p, ", ");
      size_t n = strcspn (p, ", ");
      if (n && fn (p, n, ctx) < 0)
        return -1;
      p += n;
    }
  return 0;
}

static struct net_queue_rule *
rule_for (struct net_config *nc, const char *queue, size_t qlen, sq_err *err)
{
  for (int i = 0; i < nc->nrules; i++)
    if (strlen (nc->rules[i].queue) == qlen
        && strncmp (nc->rules[i].queue, queue, qlen) == 0)
      return &nc->rules[i];
  if (nc->nrules == (int) SQ_ARRAY_SIZE (nc->rules))
    {
      sq_err_set (err, 0, "more than %zu queues with network rules",
                  SQ_ARRAY_SIZE (nc->rules));
      return NULL;
    }
  struct net_queue_rule *r = &nc->rules[nc->nrules++];
  memset (r, 0, sizeof *r);
  snprintf (r->queue, sizeof r->queue, "%.*s", (int) qlen, queue);
  return r;
}

int
netcfg_option (struct net_config *nc, const char *name, const char *v, sq_err *err)
{
  if (strncmp (name, "network.", 8) == 0)
    {
      const char *pname = name + 8, *dot = strchr (pname, '.');
      size_t plen = dot ? (size_t) (dot - pname) : strlen (pname);
      if (!name_ok (pname, plen))
        return sq_err_set (err, 0, "'%s': a network profile's name is 1-%d of [a-z0-9_-]",
                           name, SQ_NETWORK_NAME_MAX),
               1;
      int i = profile_index (nc, pname, plen);
      if (i < 0)
        {
          if (nc->nprofiles == SQ_MAX_NETWORKS)
            return sq_err_set (err, 0, "more than %d network profiles", SQ_MAX_NETWORKS),
                   1;
          i = nc->nprofiles++;
          memset (&nc->profiles[i], 0, sizeof nc->profiles[i]);
          snprintf (nc->profiles[i].name, sizeof nc->profiles[i].name, "%.*s", (int) plen,
                    pname);
        }
      struct net_profile *p = &nc->profiles[i];
      if (!dot)
        {
          /* Checked here for their form; resolved per job. */
          char buf[sizeof p->dests];
          if (strlen (v) >= sizeof p->dests)
            return sq_err_set (err, 0, "'%s': longer than %zu bytes", name,
                               sizeof p->dests - 1),
                   1;
          snprintf (buf, sizeof buf, "%s", v);
          int n = 0;
          for (char *save = NULL, *d = strtok_r (buf, ", ", &save); d;
               d = strtok_r (NULL, ", ", &save), n++)
            {
              const char *colon = strrchr (d, ':');
              uint64_t port;
              if (!colon || colon == d
                  || sq_parse_uint (colon + 1, "port", 1, 65535, &port, err) < 0)
                return sq_err_set (err, 0, "'%s': '%s' is not HOST:PORT (port 1-65535)",
                                   name, d),
                       1;
            }
          if (n == 0)
            return sq_err_set (err, 0, "'%s': no destination", name), 1;
          snprintf (p->dests, sizeof p->dests, "%s", v);
          return 1;
        }
      if (strcmp (dot, ".env") == 0)
        {
          const char *eq = strchr (v, '=');
          if (!eq || eq == v || strcmp (v, "PATH") == 0 || strncmp (v, "PATH=", 5) == 0)
            return sq_err_set (err, 0, "'%s': expected VAR=VALUE (not PATH)", name), 1;
          if (p->nenv == SQ_NETWORK_MAX_ENV)
            return sq_err_set (err, 0, "'%s': more than %d variables", name,
                               SQ_NETWORK_MAX_ENV),
                   1;
          if (!(p->env[p->nenv] = strdup (v)))
            return sq_err_set (err, ENOMEM, "%s", name), 1;
          p->nenv++;
          return 1;
        }
      return sq_err_set (err, 0, "unknown option '%s'", name), 1;
    }
  if (strncmp (name, "queue.", 6) == 0)
    {
      const char *q = name + 6, *dot = strrchr (q, '.');
      if (!dot || dot == q
          || (strcmp (dot, ".networks") != 0 && strcmp (dot, ".network") != 0))
        return sq_err_set (err, 0,
                           "unknown option '%s' (queue options: queue.Q.networks, "
                           "queue.Q.network)",
                           name),
               1;
      struct net_queue_rule *r = rule_for (nc, q, (size_t) (dot - q), err);
      if (!r)
        return 1;
      char *field = strcmp (dot, ".networks") == 0 ? r->allow : r->dflt;
      if (strlen (v) >= sizeof r->allow)
        return sq_err_set (err, 0, "'%s': too long", name), 1;
      /* "none" or empty: nothing (an empty allow list offers nothing). */
      snprintf (field, sizeof r->allow, "%s", *v ? v : "none");
      return 1;
    }
  return 0;
}

static int
list_has (const char *list, const char *name)
{
  size_t n = strlen (name);
  for (const char *p = list; *p;)
    {
      p += strspn (p, ", ");
      size_t l = strcspn (p, ", ");
      if (l == n && strncmp (p, name, n) == 0)
        return 1;
      p += l;
    }
  return 0;
}

struct check_ctx
{
  const struct net_config *nc;
  const char *queue, *what;
  sq_err *err;
};

static int
check_name (const char *name, size_t len, void *ctx)
{
  struct check_ctx *c = ctx;
  if (len == 4 && strncmp (name, "none", 4) == 0)
    return 0;
  if (profile_index (c->nc, name, len) < 0)
    return sq_err_set (c->err, 0,
                       "queue.%s.%s: no network profile '%.*s' (define it as "
                       "network.%.*s = HOST:PORT)",
                       c->queue, c->what, (int) len, name, (int) len, name);
  return 0;
}

int
netcfg_check (const struct net_config *nc, sq_err *err)
{
  for (int i = 0; i < nc->nprofiles; i++)
    if (!nc->profiles[i].dests[0])
      return sq_err_set (err, 0, "network.%s: has options but no destinations",
                         nc->profiles[i].name);
  for (int i = 0; i < nc->nrules; i++)
    {
      const struct net_queue_rule *r = &nc->rules[i];
      struct check_ctx c = { nc, r->queue, "networks", err };
      if (each_name (r->allow, check_name, &c) < 0)
        return -1;
      c.what = "network";
      if (each_name (r->dflt, check_name, &c) < 0)
        return -1;
      for (int j = 0; r->allow[0] && j < nc->nprofiles; j++)
        if (list_has (r->dflt, nc->profiles[j].name)
            && !list_has (r->allow, nc->profiles[j].name))
          return sq_err_set (err, 0, "queue.%s.network: '%s' is not in queue.%s.networks",
                             r->queue, nc->profiles[j].name, r->queue);
    }
  return 0;
}

struct add_ctx
{
  const struct net_config *nc;
  const struct net_queue_rule *rule;
  const char *queue;
  struct job_network *jn;
  sq_err *err;
};

/* The queue's offer, for messages. */
static void
offer (const struct net_config *nc, const struct net_queue_rule *r, char *buf, size_t len)
{
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < nc->nprofiles; i++)
    if (!r || !r->allow[0] || list_has (r->allow, nc->profiles[i].name))
      used += (size_t) snprintf (buf + used, len > used ? len - used : 0, "%s%s",
                                 used ? ", " : "", nc->profiles[i].name);
  if (!buf[0])
    snprintf (buf, len, "none");
}

static int
add_profile (const char *name, size_t len, void *ctx)
{
  struct add_ctx *a = ctx;
  const struct net_config *nc = a->nc;
  char pname[SQ_NETWORK_NAME_MAX + 1], list[600];

  if (len == 4 && strncmp (name, "none", 4) == 0)
    return 0;
  snprintf (pname, sizeof pname, "%.*s", (int) len, name);
  int i = profile_index (nc, name, len);
  if (i < 0 || (a->rule && a->rule->allow[0] && !list_has (a->rule->allow, pname)))
    {
      offer (nc, a->rule, list, sizeof list);
      sq_err_set (a->err, 0,
                  "spec.network: queue '%s' offers no network profile '%s' (it offers: "
                  "%s)",
                  a->queue, pname, list);
      sq_err_input (a->err);
      return -1;
    }
  if (a->jn->mask & (1u << i))
    return 0;
  a->jn->mask |= 1u << i;
  const struct net_profile *p = &nc->profiles[i];
  char buf[sizeof p->dests];
  snprintf (buf, sizeof buf, "%s", p->dests);
  for (char *save = NULL, *d = strtok_r (buf, ", ", &save); d;
       d = strtok_r (NULL, ", ", &save))
    if (sbx_net_resolve (&a->jn->net, a->jn->hosts, sizeof a->jn->hosts, d, a->err) < 0)
      return sq_err_wrap (a->err, "network profile '%s'", pname);
  for (int e = 0; e < p->nenv; e++)
    a->jn->env[a->jn->nenv++] = p->env[e];
  a->jn->env[a->jn->nenv] = NULL;
  return 0;
}

int
netcfg_for_job (const struct net_config *nc, const char *queue,
                const struct sq_spec *spec, struct job_network *jn, sq_err *err)
{
  const struct net_queue_rule *rule = NULL;
  struct add_ctx a = { nc, NULL, queue, jn, err };

  memset (jn, 0, sizeof *jn);
  for (int i = 0; i < nc->nrules; i++)
    if (strcmp (nc->rules[i].queue, queue) == 0)
      rule = &nc->rules[i];
  a.rule = rule;
  if (spec->nnetworks)
    {
      for (int i = 0; i < spec->nnetworks; i++)
        if (add_profile (spec->networks[i], strlen (spec->networks[i]), &a) < 0)
          return -1;
    }
  else if (rule && rule->dflt[0] && each_name (rule->dflt, add_profile, &a) < 0)
    return -1;
  jn->net.hosts = jn->hosts[0] ? jn->hosts : NULL;
  return 0;
}

void
netcfg_free (struct net_config *nc)
{
  for (int i = 0; i < nc->nprofiles; i++)
    for (int e = 0; e < nc->profiles[i].nenv; e++)
      free (nc->profiles[i].env[e]);
  nc->nprofiles = 0;
}
