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

int
main (int argc, char **argv)
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
  struct sbx_limits lim;
  static struct sbx_net net;
  static char net_hosts[SBX_NET_HOSTS_MAX + 1];
  struct sbx_host_config hc = { 0 };
  const char *dir = NULL;
  size_t nenv = 0;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  uint64_t v, slot = (uint64_t) getpid ();
  int template = 0;
  sq_err err = { 0 };
  int c;

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

  sbx_limits_default (&lim);
  env = calloc (argc + 16, sizeof *env);
  for (size_t i = 0; sbx_default_env[i]; i++)
    env[nenv++] = sbx_default_env[i];
  argc--, argv++;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    {
      switch (c)
        {
        case LIMIT_OPT ... LIMIT_OPT + SQ_LIM__COUNT - 1:
          if (sq_limit_opt_parse (c - LIMIT_OPT, optarg, &v, &err) < 0)
            die_usage ("%s", err.msg);
          sbx_limits_set (&lim, c - LIMIT_OPT, v);
          break;
        case 'n':
          if (sq_parse_uint (optarg, "--nofile", 16, 65536, &lim.nofile, &err) < 0)
            die_usage ("%s", err.msg);
          break;
        case 'D':
          dir = optarg;
          break;
        case 'e':
          {
            const char *eq = strchr (optarg, '=');
            if (!eq || eq == optarg)
              die_usage ("--env '%s': not NAME=VALUE", optarg);
            /* A later --env replaces an earlier or default one. */
            size_t klen = eq - optarg + 1, i;
            for (i = 0; i < nenv; i++)
              if (strncmp (env[i], optarg, klen) == 0)
                break;
            env[i] = optarg;
            if (i == nenv)
              nenv++;
            break;
          }
        case 'I':
          in_fd = open (optarg, O_RDONLY | O_CLOEXEC);
          if (in_fd < 0)
            die_usage ("--stdin '%s': %s", optarg, strerror (errno));
          break;
        case 'O':
          out_fd = open_out_file (optarg, "--stdout");
          break;
        case 'E':
          err_fd = open_out_file (optarg, "--stderr");
          break;
        case 's':
          if (sq_parse_uint (optarg, "--slot", 0, 1 << 20, &slot, &err) < 0)
            die_usage ("%s", err.msg);
          break;
        case 'N':
          if (sbx_net_resolve (&net, net_hosts, sizeof net_hosts, optarg, &err) < 0)
            die_usage ("--network: %s", err.msg);
          break;
        case 'T':
          template = 1;
          break;
        case 'u':
          if (sq_parse_uint (optarg, "--uid-base", 1000, 4000000000u, &v, &err) < 0)
            die_usage ("%s", err.msg);
          hc.uid_base = (uid_t) v;
          break;
        case 'h':
          usage (0, stdout);
          break;
        case 'V':
          printf ("sandq-sandbox %s\n", SANDQ_VERSION);
          return 0;
        default:
          die_usage ("'%s': unknown option, or its value is missing", argv[optind - 1]);
        }
    }
  if (optind >= argc)
    die_usage ("run: no command; give it after the options, as in: sandq-sandbox run -- "
               "/bin/true");
  if (sbx_limits_check (&lim, &err) < 0)
    die_usage ("%s", err.msg);

  cleanup_close int dirfd = -1;
  if (dir)
    {
      dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirfd < 0)
        die_usage ("--dir '%s': %s", dir, strerror (errno));
      check_out_dir (dirfd, dir);
    }

  /* This process runs one sandbox: its network namespace can be made
   * beside the rest of the set-up. */
  hc.reuse_netns = 1;
  hc.prefetch_slot = (unsigned) slot;
  hc.prefetch_count = 1;
  hc.one_shot = !template;
  /* A --stdout or --stderr pipe whose reader went away is an error to
   * report (the job stops: its output cannot be stored), not a reason to
   * die and leave the sandbox's cgroup behind. */
  signal (SIGPIPE, SIG_IGN);
  struct sbx_host *h = sbx_host_new (&hc, &err);
  if (!h)
    {
      fprintf (stderr, "sandq-sandbox: %s\n", err.msg);
      free (env);
      return EXIT_SYSTEM;
    }
  sq_debug ("%s", sbx_host_describe (h));
  struct sbx *b = sbx_new (h, &lim, (unsigned) slot, &err);
  if (!b)
    {
      fprintf (stderr, "sandq-sandbox: %s\n", err.msg);
      sbx_host_free (h);
      free (env);
      return EXIT_SYSTEM;
    }
  if (dirfd >= 0 && sbx_copy_in (b, dirfd, &err) < 0)
    {
      fprintf (stderr, "sandq-sandbox: --dir '%s': %s\n", dir, err.msg);
      sbx_free (b);
      sbx_host_free (h);
      free (env);
      return EXIT_USAGE;
    }

  net.hosts = net_hosts[0] ? net_hosts : NULL;
  if (net.ndests && sbx_set_network (b, &net, &err) < 0)
    {
      fprintf (stderr, "sandq-sandbox: --network: %s\n", err.msg);
      sbx_free (b);
      sbx_host_free (h);
      free (env);
      return EXIT_USAGE;
    }

  struct sbx_exec ex = {
    .argv = argv + optind,
    .envp = env,
    .stdin_fd = in_fd,
    .stdout_fd = out_fd,
    .stderr_fd = err_fd,
  };
  struct sbx_result res;
  int rc = sbx_run (b, &ex, &res, &err);

  struct sq_tree_stats ts = { 0 };
  const char *copy_error = NULL;
  sq_err cerr = { 0 };
  if (rc == 0 && dirfd >= 0 && sbx_out_fd (b) >= 0)
    {
      struct sq_tree_limits tl = { lim.disk_inodes, lim.disk_bytes, 64, 4095 };
      if ((mkdirat (dirfd, "out", 0755) < 0 && errno != EEXIST))
        sq_err_set (&cerr, errno, "create '%s/out'", dir);
      else
        {
          cleanup_close int ofd
              = openat (dirfd, "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (ofd < 0)
            sq_err_set (&cerr, errno, "open '%s/out'", dir);
          else
            sq_tree_copy (sbx_out_fd (b), ofd, &tl, SQ_COPY_SKIP_BAD_NAMES, 0, 0, &ts,
                          &cerr);
        }
      if (cerr.msg[0])
        copy_error = cerr.msg;
    }

  /* The keys in this order, as docs/sandbox.md shows them. */
  fputs ("{\"status\":", stdout);
  sq_json_put_str (stdout, sq_status_name (res.status));
  put_num_or_null (stdout, "exit_code", res.exit_code, res.exit_code >= 0);
  put_num_or_null (stdout, "signal", res.signal, res.signal > 0);
  put_u64 (stdout, "wall_ms", res.wall_ms);
  put_u64 (stdout, "cpu_ms", res.cpu_ms);
  put_u64 (stdout, "memory_peak_bytes", res.memory_peak_bytes);
  put_u64 (stdout, "stdout_bytes", res.stdout_bytes);
  put_u64 (stdout, "stderr_bytes", res.stderr_bytes);
  put_u64 (stdout, "disk_bytes", res.disk_bytes);
  put_u64 (stdout, "out_files", ts.entries - ts.skipped);
  put_u64 (stdout, "out_skipped", ts.skipped);
  if (net.ndests)
    {
      put_u64 (stdout, "net_refused", res.net_refused);
      put_key (stdout, "net_refused_to");
      sq_json_put_str (stdout, res.net_refused_to);
    }
  if (copy_error)
    {
      put_key (stdout, "out_error");
      sq_json_put_str (stdout, copy_error);
    }
  put_key (stdout, "message");
  sq_json_put_str (stdout, res.message);
  fputs ("}\n", stdout);
  fflush (stdout);

  sbx_free (b);
  sbx_host_free (h);
  free (env);
  if (rc < 0 || res.status == SQ_STATUS_SYSTEM_ERROR)
    return EXIT_SYSTEM;
  return res.status == SQ_STATUS_OK && !copy_error ? 0 : EXIT_VERDICT;
}
