/* sandq-sandbox: run one program in a fresh sandbox and print its verdict.
 *
 * A one-shot tool for debugging, tests and benchmarks; the worker uses the
 * same library. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/log.h"
#include "../common/tree.h"
#include "../common/util.h"
#include "../common/version.h"
#include "sandbox.h"

enum
{
  EXIT_VERDICT = 1,
  EXIT_USAGE = 2,
  EXIT_SYSTEM = 3,
};

/* The job's environment; file-level so that it stays reachable on the
 * exit() paths of usage errors. */
static char **env;

static void
usage (int code, FILE *out)
{
  fprintf (
      out,
      "usage: sandq-sandbox run [OPTION...] [--dir DIR] -- COMMAND [ARG...]\n"
      "       sandq-sandbox info [--json]\n"
      "\n"
      "Runs COMMAND in a fresh sandbox: new user, PID, mount, IPC, UTS, network\n"
      "(loopback only) and cgroup namespaces, a read-only view of the host's /usr,\n"
      "no capabilities, a seccomp filter, and hard limits. Prints the verdict as\n"
      "one JSON object on stdout.\n"
      "\n"
      "The program starts in /work, a copy of DIR. What it\n"
      "writes to /work/out comes back to DIR/out: regular files and directories\n"
      "only, never links or devices. DIR/out must be absent or empty.\n"
      "\n"
      "Limits (defaults are safe for untrusted code):\n"
      "  --memory SIZE     memory, no swap, incl. files, inputs and\n"
      "                    captured output                         (default 512M)\n"
      "  --cpu DURATION    CPU time of all processes together      (default 60s)\n"
      "  --wall DURATION   wall-clock time, fractions allowed      (default 60s)\n"
      "  --pids N          processes and threads at once           (default 64)\n"
      "  --output SIZE     stdout and stderr together              (default 16M)\n"
      "  --disk SIZE       /work, /tmp and /dev/shm together       (default 256M)\n"
      "  --inodes N        files and directories on that disk      (default 16384)\n"
      "  --cpus CORES      CPU bandwidth in cores, e.g. 0.5        (default 1)\n"
      "  --nofile N        open files per process                  (default 256)\n"
      "SIZE takes K, M, G or T (powers of 1024); DURATION takes fractions and\n"
      "an ms, s, m, h or d suffix (seconds without one).\n"
      "\n"
      "Other options:\n"
      "  --dir DIR         the job's inputs; results go to DIR/out\n"
      "  --env NAME=VALUE  set a variable (repeatable); the environment is\n"
      "                    otherwise only PATH, HOME, TMPDIR, LANG, USER, LOGNAME\n"
      "                    and MPLBACKEND=Agg\n"
      "  --stdin FILE      the program's stdin (default: /dev/null)\n"
      "  --stdout FILE     store the captured stdout there (default: discard)\n"
      "  --stderr FILE     store the captured stderr there (default: discard)\n"
      "  --network HOST:PORT  let the job open TCP connections to HOST:PORT\n"
      "                    (repeatable): a name is resolved here and written\n"
      "                    into the job's /etc/hosts; everything else stays\n"
      "                    refused. Needs IPv4 forwarding on the host.\n"
      "  --slot N          picks the host uid (uid base + N)   (default: pid-based)\n"
      "  --uid-base UID    host uid of slot 0                  (default 800000)\n"
      "  --template        copy the root from a template mount namespace, as a\n"
      "                    worker does, instead of building it in place\n"
      "  -h, --help        show this help\n"
      "  --version         show the version\n"
      "\n"
      "Exit status: 0 the program ended ok; 1 it ran but the verdict is not ok;\n"
      "2 usage or bad input; 3 sandq itself failed (system_error).\n");
  exit (code);
}

static __attribute__ ((noreturn, format (printf, 1, 2))) void
die_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  sq_vrefuse (EXIT_USAGE, "sandq-sandbox", "sandq-sandbox", "", fmt, ap);
}

/* The CLI writes its JSON by hand: it is linked with musl (see the
 * Makefile), for which Debian has no jansson. Strings go through
 * sq_json_put_str; the rest are numbers and null. */
static void
put_key (FILE *f, const char *key)
{
  fprintf (f, ",\"%s\":", key);
}

static void
put_num_or_null (FILE *f, const char *key, long long v, int present)
{
  put_key (f, key);
  if (present)
    fprintf (f, "%lld", v);
  else
    fputs ("null", f);
}

static void
put_u64 (FILE *f, const char *key, uint64_t v)
{
  put_key (f, key);
  fprintf (f, "%" PRIu64, v);
}

static int
cmd_info (int argc, char **argv)
{
  sq_err err = { 0 };
  struct sbx_host *h;
  int json = argc > 1 && strcmp (argv[1], "--json") == 0;

  if (argc > 1 && !json)
    {
      if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
        {
          printf ("usage: sandq-sandbox info [--json]\n\nDetects the cgroup "
                  "layout and checks that a sandbox can be set up here.\n");
          return 0;
        }
      die_usage ("info: '%s': unknown option", argv[1]);
    }
  h = sbx_host_new (NULL, &err);
  if (!h)
    {
      fprintf (stderr, "sandq-sandbox: %s\n", err.msg);
      return EXIT_SYSTEM;
    }
  if (json)
    {
      fputs ("{\"version\":", stdout);
      sq_json_put_str (stdout, SANDQ_VERSION);
      fputs (",\"cgroup\":", stdout);
      sq_json_put_str (stdout, sbx_host_describe (h));
      fputs ("}\n", stdout);
    }
  else
    printf ("sandq-sandbox %s\n%s\n", SANDQ_VERSION, sbx_host_describe (h));
  sbx_host_free (h);
  return 0;
}

static int
open_out_file (const char *path, const char *opt)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    die_usage ("%s '%s': %s", opt, path, strerror (errno));
  return fd;
}

static int
check_out_dir (int dirfd, const char *dir)
{
  cleanup_close int ofd = openat (dirfd, "out", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int n = 0;

  if (ofd < 0)
    {
      if (errno == ENOENT)
        return 0;
      die_usage ("--dir '%s': 'out' is not a directory", dir);
    }
  DIR *d = fdopendir (dup (ofd));
  struct dirent *e;
  while (d && (e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      n++;
  if (d)
    closedir (d);
  if (n)
    die_usage ("--dir '%s': '%s/out' must be empty before a run", dir, dir);
  return 0;
}

/* getopt's codes for the limit options: LIMIT_OPT + enum sq_limit. */
#define LIMIT_OPT 1000

/* What `run` was told. */
struct run_opts
{
  struct sbx_limits lim;
  struct sbx_net net;
  char net_hosts[SBX_NET_HOSTS_MAX + 1];
  struct sbx_host_config hc;
  const char *dir;
  size_t nenv;
  int in_fd, out_fd, err_fd;
  uint64_t slot;
  int template;
  char **argv; /* the command */
};

/* --env NAME=VALUE: a later one replaces an earlier or default one. */
static void
set_env (struct run_opts *o, const char *kv)
{
  const char *eq = strchr (kv, '=');
  size_t klen, i;

  if (!eq || eq == kv)
    die_usage ("--env '%s': not NAME=VALUE", kv);
  klen = eq - kv + 1;
  for (i = 0; i < o->nenv; i++)
    if (strncmp (env[i], kv, klen) == 0)
      break;
  env[i] = (char *) kv;
  if (i == o->nenv)
    o->nenv++;
}

/* One option of `run` (getopt's code c, its optarg); exits on a bad one. */
static void
run_option (struct run_opts *o, int c, char *arg, const char *seen)
{
  sq_err err = { 0 };
  uint64_t v;

  switch (c)
    {
    case LIMIT_OPT ... LIMIT_OPT + SQ_LIM__COUNT - 1:
      if (sq_limit_opt_parse (c - LIMIT_OPT, arg, &v, &err) < 0)
        die_usage ("%s", err.msg);
      sbx_limits_set (&o->lim, c - LIMIT_OPT, v);
      return;
    case 'n':
      if (sq_parse_uint (arg, "--nofile", 16, 65536, &o->lim.nofile, &err) < 0)
        die_usage ("%s", err.msg);
      return;
    case 'D':
      o->dir = arg;
      return;
    case 'e':
      set_env (o, arg);
      return;
    case 'I':
      o->in_fd = open (arg, O_RDONLY | O_CLOEXEC);
      if (o->in_fd < 0)
        die_usage ("--stdin '%s': %s", arg, strerror (errno));
      return;
    case 'O':
      o->out_fd = open_out_file (arg, "--stdout");
      return;
    case 'E':
      o->err_fd = open_out_file (arg, "--stderr");
      return;
    case 's':
      if (sq_parse_uint (arg, "--slot", 0, 1 << 20, &o->slot, &err) < 0)
        die_usage ("%s", err.msg);
      return;
    case 'N':
      if (sbx_net_resolve (&o->net, o->net_hosts, sizeof o->net_hosts, arg, &err) < 0)
        die_usage ("--network: %s", err.msg);
      return;
    case 'T':
      o->template = 1;
      return;
    case 'u':
      if (sq_parse_uint (arg, "--uid-base", 1000, 4000000000u, &v, &err) < 0)
        die_usage ("%s", err.msg);
      o->hc.uid_base = (uid_t) v;
      return;
    case 'h':
      usage (0, stdout);
      return;
    case 'V':
      printf ("sandq-sandbox %s\n", SANDQ_VERSION);
      exit (0);
    default:
      die_usage ("'%s': unknown option, or its value is missing", seen);
    }
}

/* `run`'s options and command (argv[0] is "run"); exits on a bad one. */
static void
parse_run (int argc, char **argv, struct run_opts *o)
{
  static const struct option opts[] = {
    SQ_LIMIT_LONG_OPTIONS (LIMIT_OPT),        { "nofile", required_argument, 0, 'n' },
    { "dir", required_argument, 0, 'D' },     { "env", required_argument, 0, 'e' },
    { "stdin", required_argument, 0, 'I' },   { "stdout", required_argument, 0, 'O' },
    { "stderr", required_argument, 0, 'E' },  { "slot", required_argument, 0, 's' },
    { "network", required_argument, 0, 'N' }, { "uid-base", required_argument, 0, 'u' },
    { "template", no_argument, 0, 'T' },      { "help", no_argument, 0, 'h' },
    { "version", no_argument, 0, 'V' },       { 0, 0, 0, 0 },
  };
  sq_err err = { 0 };
  int c;

  o->in_fd = o->out_fd = o->err_fd = -1;
  o->slot = (uint64_t) getpid ();
  sbx_limits_default (&o->lim);
  env = calloc (argc + 16, sizeof *env);
  if (!env)
    die_usage ("the command line: out of memory");
  for (size_t i = 0; sbx_default_env[i]; i++)
    env[o->nenv++] = sbx_default_env[i];
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    run_option (o, c, optarg, argv[optind - 1]);
  if (optind >= argc)
    die_usage ("run: no command; give it after the options, as in: sandq-sandbox run -- "
               "/bin/true");
  if (sbx_limits_check (&o->lim, &err) < 0)
    die_usage ("%s", err.msg);
  o->argv = argv + optind;
  o->net.hosts = o->net_hosts[0] ? o->net_hosts : NULL;
  struct sbx_exec ex = { .argv = o->argv, .envp = env };
  if (sbx_exec_check (&ex, &err) < 0)
    die_usage ("run: %s; pass large data in a file under --dir instead", err.msg);
}

/* Copies the sandbox's out/ into DIR/out; its figures into ts, a failure
 * into cerr. */
static void
copy_out (struct sbx *b, int dirfd, const struct run_opts *o, struct sq_tree_stats *ts,
          sq_err *cerr)
{
  struct sq_tree_limits tl = { o->lim.disk_inodes, o->lim.disk_bytes, 64, 4095, 1 };
  cleanup_close int ofd = -1;

  if ((mkdirat (dirfd, "out", 0755) < 0 && errno != EEXIST))
    {
      sq_err_set (cerr, errno, "create '%s/out'", o->dir);
      return;
    }
  ofd = openat (dirfd, "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ofd < 0)
    sq_err_set (cerr, errno, "open '%s/out'", o->dir);
  else
    sq_tree_copy (sbx_out_fd (b), ofd, &tl, SQ_COPY_SKIP_BAD_NAMES, 0, 0, ts, cerr);
}

/* The result on stdout: the keys in this order, as docs/sandbox.md shows
 * them. */
static void
print_result (const struct sbx_result *res, const struct sq_tree_stats *ts, int network,
              const char *copy_error)
{
  fputs ("{\"status\":", stdout);
  sq_json_put_str (stdout, sq_status_name (res->status));
  put_num_or_null (stdout, "exit_code", res->exit_code, res->exit_code >= 0);
  put_num_or_null (stdout, "signal", res->signal, res->signal > 0);
#define FIGURE(member) put_u64 (stdout, #member, res->member);
  SBX_RESULT_FIGURES (FIGURE)
#undef FIGURE
  put_u64 (stdout, "out_files", ts->entries - ts->skipped);
  put_u64 (stdout, "out_skipped", ts->skipped);
  if (network)
    {
      put_u64 (stdout, "net_refused", res->net_refused);
      put_key (stdout, "net_refused_to");
      sq_json_put_str (stdout, res->net_refused_to);
    }
  if (copy_error)
    {
      put_key (stdout, "out_error");
      sq_json_put_str (stdout, copy_error);
    }
  put_key (stdout, "message");
  sq_json_put_str (stdout, res->message);
  fputs ("}\n", stdout);
  fflush (stdout);
}

/* Makes the sandbox, copies --dir in, sets the network; the host's or
 * the sandbox's failure is printed and *rc set. */
static struct sbx *
prepare (struct sbx_host **hp, struct run_opts *o, int dirfd, int *rc)
{
  sq_err err = { 0 };
  struct sbx *b = NULL;

  *rc = EXIT_USAGE;
  *hp = sbx_host_new (&o->hc, &err);
  if (*hp)
    b = sbx_new (*hp, &o->lim, (unsigned) o->slot, &err);
  if (!b)
    {
      fprintf (stderr, "sandq-sandbox: %s\n", err.msg);
      *rc = EXIT_SYSTEM;
    }
  else if (dirfd >= 0 && sbx_copy_in (b, dirfd, &err) < 0)
    fprintf (stderr, "sandq-sandbox: --dir '%s': %s\n", o->dir, err.msg);
  else if (o->net.ndests && sbx_set_network (b, &o->net, &err) < 0)
    fprintf (stderr, "sandq-sandbox: --network: %s\n", err.msg);
  else
    return b;
  sbx_free (b);
  return NULL;
}

static int
cmd_run (int argc, char **argv)
{
  static struct run_opts o;
  cleanup_close int dirfd = -1;
  struct sq_tree_stats ts = { 0 };
  struct sbx_host *h;
  struct sbx_result res;
  sq_err err = { 0 }, cerr = { 0 };
  int rc;

  parse_run (argc, argv, &o);
  if (o.dir)
    {
      dirfd = open (o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirfd < 0)
        die_usage ("--dir '%s': %s", o.dir, strerror (errno));
      check_out_dir (dirfd, o.dir);
    }
  /* This process runs one sandbox: its network namespace can be made
   * beside the rest of the set-up. */
  o.hc.reuse_netns = 1;
  o.hc.prefetch_slot = (unsigned) o.slot;
  o.hc.prefetch_count = 1;
  o.hc.one_shot = !o.template;
  /* A --stdout or --stderr pipe whose reader went away is an error to
   * report (the job stops: its output cannot be stored), not a reason to
   * die and leave the sandbox's cgroup behind. */
  signal (SIGPIPE, SIG_IGN);
  struct sbx *b = prepare (&h, &o, dirfd, &rc);
  if (!b)
    {
      sbx_host_free (h);
      free (env);
      return rc;
    }
  struct sbx_exec ex = {
    .argv = o.argv,
    .envp = env,
    .stdin_fd = o.in_fd,
    .stdout_fd = o.out_fd,
    .stderr_fd = o.err_fd,
  };
  rc = sbx_run (b, &ex, &res, &err);
  sq_debug ("%s", sbx_host_describe (h));
  /* The result says it too, for scripts; this is for whoever watches. */
  if (rc < 0)
    fprintf (stderr, "sandq-sandbox: %s\n", err.msg);
  if (rc == 0 && dirfd >= 0 && sbx_out_fd (b) >= 0)
    copy_out (b, dirfd, &o, &ts, &cerr);
  print_result (&res, &ts, o.net.ndests > 0, cerr.msg[0] ? cerr.msg : NULL);
  sbx_free (b);
  sbx_host_free (h);
  free (env);
  if (rc < 0 || res.status == SQ_STATUS_SYSTEM_ERROR)
    return EXIT_SYSTEM;
  return res.status == SQ_STATUS_OK && !cerr.msg[0] ? 0 : EXIT_VERDICT;
}

int
main (int argc, char **argv)
{
  sq_log_init ("sandq-sandbox");
  if (argc < 2)
    die_usage (
        "command: none given; give run or info, as in: sandq-sandbox run -- /bin/true");
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    usage (0, stdout);
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("sandq-sandbox %s\n", SANDQ_VERSION);
      return 0;
    }
  if (strcmp (argv[1], "info") == 0)
    return cmd_info (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") != 0)
    die_usage ("'%s': unknown command; give run or info first, as in: sandq-sandbox run "
               "--memory 256M -- /bin/true",
               argv[1]);
  return cmd_run (argc - 1, argv + 1);
}
