/* sandq acl: Redis ACL rules for sandq's roles and a set of teams. Talks
 * to no Redis: the operator loads what it prints (aclfile, ACL LOAD). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/acl.h"
#include "../common/util.h"
#include "cli.h"

#define MAX_TEAMS 64
#define MAX_QUEUES 256
#define TEAM_MAX 48

struct team
{
  char name[TEAM_MAX + 1];
  const char *queues[MAX_QUEUES];
  int nqueues;
};

struct acl_opts
{
  const char *secrets;
  struct team teams[MAX_TEAMS];
  int nteams;
  char *spec[MAX_TEAMS]; /* the --team values, split in place */
};

static const char *
team_of (const struct acl_opts *a, const char *queue)
{
  for (int t = 0; t < a->nteams; t++)
    for (int q = 0; q < a->teams[t].nqueues; q++)
      if (strcmp (a->teams[t].queues[q], queue) == 0)
        return a->teams[t].name;
  return NULL;
}

/* --team TEAM=QUEUE[,QUEUE...] */
static void
add_team (struct acl_opts *a, const char *arg)
{
  if (a->nteams == MAX_TEAMS)
    cli_die (SQ_EXIT_USAGE, "--team: more than %d teams", MAX_TEAMS);
  char *s = a->spec[a->nteams] = strdup (arg);
  char *eq = s ? strchr (s, '=') : NULL;
  if (!eq)
    cli_die (SQ_EXIT_USAGE, "--team '%.80s': write TEAM=QUEUE[,QUEUE...]", arg);
  *eq = '\0';
  struct team *t = &a->teams[a->nteams];
  /* The team names a Redis user, sandq-TEAM: no ':' there. */
  if (!sq_valid_name (s, TEAM_MAX) || strchr (s, ':'))
    cli_die (SQ_EXIT_USAGE, "--team '%.80s': team name: use 1-%d of [A-Za-z0-9._-]", arg,
             TEAM_MAX);
  if (strcmp (s, "worker") == 0 || strcmp (s, "operator") == 0)
    cli_die (SQ_EXIT_USAGE,
             "--team '%.80s': '%s' names a role's user (sandq-%s); pick "
             "another team name",
             arg, s, s);
  for (int i = 0; i < a->nteams; i++)
    if (strcmp (a->teams[i].name, s) == 0)
      cli_die (SQ_EXIT_USAGE,
               "--team '%s': named twice; list its queues once, comma-separated", s);
  snprintf (t->name, sizeof t->name, "%s", s);
  for (char *q = strtok (eq + 1, ","); q; q = strtok (NULL, ","))
    {
      if (!sq_valid_name (q, SQ_QUEUE_MAX))
        cli_die (SQ_EXIT_USAGE,
                 "--team '%.80s': queue '%.80s': not a queue name; use 1-%d of "
                 "[A-Za-z0-9._:-]",
                 arg, q, SQ_QUEUE_MAX);
      const char *other = team_of (a, q);
      if (other)
        cli_die (SQ_EXIT_USAGE,
                 "--team '%.80s': queue '%s' is already team '%s''s; a queue belongs to "
                 "one team",
                 arg, q, other);
      if (t->nqueues == MAX_QUEUES)
        cli_die (SQ_EXIT_USAGE, "--team '%.80s': more than %d queues", arg, MAX_QUEUES);
      t->queues[t->nqueues++] = q;
    }
  if (!t->nqueues)
    cli_die (SQ_EXIT_USAGE, "--team '%.80s': no queue; write TEAM=QUEUE[,QUEUE...]", arg);
  a->nteams++;
}

/* The password of user, from DIR/USER; made and written there (0600) if
 * the file does not exist. Its SHA-256 in hex goes to hash. */
static void
password_hash (const char *dir, const char *user, char hash[65])
{
  char path[1024], pw[257];
  sq_err err = { 0 };
  snprintf (path, sizeof path, "%s/%s", dir, user);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0)
    {
      unsigned char raw[32];
      if (getrandom (raw, sizeof raw, 0) != (ssize_t) sizeof raw)
        cli_die (SQ_EXIT_FAILURE, "getrandom: %s", strerror (errno));
      for (size_t i = 0; i < sizeof raw; i++)
        snprintf (pw + 2 * i, 3, "%02x", raw[i]);
      size_t n = strlen (pw);
      pw[n] = '\n';
      if (write (fd, pw, n + 1) != (ssize_t) n + 1 || close (fd) < 0)
        cli_die (SQ_EXIT_FAILURE, "--secrets: write '%s': %s", path, strerror (errno));
      pw[n] = '\0';
    }
  else if (errno == EEXIST)
    {
      /* Read as sandq and sandq-worker read it, so that the hash matches
       * the password they send. */
      if (sq_config_read_secret (path, pw, sizeof pw, &err) < 0)
        cli_die (err.code ? SQ_EXIT_FAILURE : SQ_EXIT_USAGE, "--secrets: %s%s", err.msg,
                 err.code ? "" : ", or remove the file to have one made");
    }
  else
    cli_die (SQ_EXIT_FAILURE, "--secrets: create '%s': %s", path, strerror (errno));
  struct sha256_ctx ctx;
  unsigned char d[SHA256_DIGEST_SIZE];
  sha256_init (&ctx);
  sha256_update (&ctx, strlen (pw), (const uint8_t *) pw);
  sha256_digest (&ctx, sizeof d, d);
  for (size_t i = 0; i < sizeof d; i++)
    snprintf (hash + 2 * i, 3, "%02x", d[i]);
}

static void
print_user (struct cli *c, json_t *users, const struct acl_opts *a, const char *user,
            const char *role_name, enum sq_role role, const char *const *queues, int nq)
{
  char hash[65], rule[32768], path[1024];
  password_hash (a->secrets, user, hash);
  if (sq_acl_rule (role, queues, nq, rule, sizeof rule) < 0)
    cli_die (SQ_EXIT_USAGE,
             "user '%s': its rule is over %zu bytes; split its queues "
             "among teams",
             user, sizeof rule);
  snprintf (path, sizeof path, "%s/%s", a->secrets, user);
  /* An ACL file has no comments: the roles are in --help. */
  if (!c->json)
    {
      printf ("user %s on #%s %s\n", user, hash, rule);
      return;
    }
  json_t *qs = json_array ();
  for (int i = 0; i < nq; i++)
    json_array_append_new (qs, json_string (queues[i]));
  char line[33000];
  snprintf (line, sizeof line, "user %s on #%s %s", user, hash, rule);
  json_array_append_new (users, json_pack ("{s:s, s:s, s:o, s:s, s:s}", "user", user,
                                           "role", role_name, "queues", qs,
                                           "password_file", path, "rule", line));
}

static int
acl_opt (struct cli *c, int o, const char *arg, void *ctx)
{
  struct acl_opts *a = ctx;
  (void) c;
  if (o == 'S')
    a->secrets = arg;
  else if (o == 'T')
    add_team (a, arg);
  else
    return 0;
  return 1;
}

int
cmd_acl (struct cli *c, int argc, char **argv)
{
  static const char help[]
      = "usage: sandq acl --secrets DIR [--team TEAM=QUEUE[,QUEUE...]]... [--json]\n\n"
        "Prints Redis ACL rules (an ACL file, for the aclfile setting or ACL LOAD)\n"
        "for sandq's roles, and talks to no Redis:\n"
        "  sandq-worker    every queue: runs jobs\n"
        "  sandq-operator  the teams' queues: status, cancel, pause, resume, drain,\n"
        "                  dead letters, stats, workers; never an input, a result\n"
        "                  or live output\n"
        "  sandq-TEAM      one per --team, only its queues: submit, status, wait,\n"
        "                  result, logs, cancel, mcp; nothing global (the workers'\n"
        "                  jobs, the queue set, the job id index)\n"
        "and turns the default user off, so that a client without a login can do\n"
        "nothing. A queue belongs to one team. Each user's password is read from\n"
        "DIR/USER, or, if there is no such file, made (32 random bytes, in hex) and\n"
        "written there (mode 0600); only its SHA-256 is printed. Hand each host its\n"
        "user's file as redis_password_file (or the systemd credential\n"
        "redis-password), and its name as redis_user. Run again whenever a team or\n"
        "a queue is added: the operator's rule names every queue.\n";
  static const struct option opts[] = {
    CLI_COMMON_OPTS,
    { "secrets", required_argument, 0, 'S' },
    { "team", required_argument, 0, 'T' },
    { 0, 0, 0, 0 },
  };
  static struct acl_opts a;
  const char *all[MAX_TEAMS * MAX_QUEUES];
  int nall = 0;

  if (cli_getopt (c, argc, argv, opts, help, acl_opt, &a) != argc)
    cli_die (SQ_EXIT_USAGE, "acl: takes no arguments, only options");
  if (!a.secrets)
    cli_die (SQ_EXIT_USAGE, "acl: --secrets DIR is required: the directory of the users' "
                            "password files");
  if (mkdir (a.secrets, 0700) < 0 && errno != EEXIST)
    cli_die (SQ_EXIT_FAILURE, "--secrets '%s': %s", a.secrets, strerror (errno));
  for (int t = 0; t < a.nteams; t++)
    for (int q = 0; q < a.teams[t].nqueues; q++)
      all[nall++] = a.teams[t].queues[q];

  json_t *users = json_array ();
  if (!c->json)
    printf ("user default off resetkeys resetchannels -@all\n");
  print_user (c, users, &a, "sandq-worker", "worker", SQ_ROLE_WORKER, NULL, 0);
  print_user (c, users, &a, "sandq-operator", "operator", SQ_ROLE_OPERATOR, all, nall);
  for (int t = 0; t < a.nteams; t++)
    {
      char user[64];
      snprintf (user, sizeof user, "sandq-%s", a.teams[t].name);
      print_user (c, users, &a, user, "submitter", SQ_ROLE_SUBMITTER, a.teams[t].queues,
                  a.teams[t].nqueues);
    }
  if (c->json)
    {
      json_t *o = json_pack ("{s:s, s:o}", "default",
                             "user default off resetkeys "
                             "resetchannels -@all",
                             "users", users);
      char *s = json_dumps (o, JSON_COMPACT);
      printf ("%s\n", s);
      free (s);
      json_decref (o);
    }
  else
    json_decref (users);
  for (int t = 0; t < a.nteams; t++)
    free (a.spec[t]);
  return SQ_EXIT_OK;
}
