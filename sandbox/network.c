/* A job's link out (sbx_set_network): the library's side of sandq-net
 * (net.c), which does the netlink and nftables work in a process of its
 * own. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "helpers.h"
#include "internal.h"

#define NET_ANSWER_MS 10000 /* for the helper's "ok", and for its figures */

struct sbx_netstate
{
  struct sbx_net net;
  char *hosts;
  int ctl; /* socket to the running helper, or -1 */
  pid_t pid;
};

static int
valid_hosts (const char *s)
{
  /* "ADDR NAME..." lines of printable ASCII only: they go into a file
   * that the job's resolver parses. */
  for (; *s; s++)
    if ((*s < ' ' || *s > '~') && *s != '\n' && *s != '\t')
      return 0;
  return 1;
}

int
sbx_set_network (struct sbx *b, const struct sbx_net *net, sq_err *err)
{
  if (b->ran || b->net)
    return sq_err_set (err, EINVAL, "the sandbox's network is set before it runs, once");
  if (net->ndests == 0 || net->ndests > SBX_NET_MAX_DESTS)
    return sq_err_set (err, EINVAL, "a job's network has 1 to %d destinations, not %u",
                       SBX_NET_MAX_DESTS, net->ndests);
  for (unsigned i = 0; i < net->ndests; i++)
    if (net->dests[i].port == 0)
      return sq_err_set (err, EINVAL, "destination %u has no port", i + 1);
  if (net->hosts
      && (strlen (net->hosts) > SBX_NET_HOSTS_MAX || !valid_hosts (net->hosts)))
    return sq_err_set (err, EINVAL,
                       "the job's hosts lines must be printable text of at most %d "
                       "bytes",
                       SBX_NET_HOSTS_MAX);
  struct sbx_netstate *ns = calloc (1, sizeof *ns);
  if (!ns || (net->hosts && !(ns->hosts = strdup (net->hosts))))
    {
      free (ns);
      return sq_err_set (err, ENOMEM, "the sandbox's network");
    }
  ns->net = *net;
  ns->net.hosts = ns->hosts;
  ns->ctl = -1;
  ns->pid = -1;
  b->net = ns;
  return 0;
}

/* One line from the helper, within the deadline; its length, or -1. */
static ssize_t
read_line (int fd, char *buf, size_t len, uint64_t deadline_ms)
{
  /* The helper's answers are lines on a stream socket: peek, then take
   * up to and with the newline, leaving any later line where it is. */
  size_t n = 0;
  while (n + 1 < len)
    {
      uint64_t now = sq_now_ms ();
      struct pollfd pf = { fd, POLLIN, 0 };
      if (now >= deadline_ms || poll (&pf, 1, (int) (deadline_ms - now)) <= 0)
        return -1;
      ssize_t r = recv (fd, buf + n, len - 1 - n, MSG_PEEK);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      char *nl = memchr (buf + n, '\n', (size_t) r);
      size_t take = nl ? (size_t) (nl - (buf + n)) + 1 : (size_t) r;
      if (recv (fd, buf + n, take, 0) != (ssize_t) take)
        break;
      n += take;
      if (nl)
        {
          n--; /* the newline */
          break;
        }
    }
  buf[n] = '\0';
  return n ? (ssize_t) n : -1;
}

static int
write_hosts (struct sbx *b, sq_err *err)
{
  static const char base[] = "127.0.0.1\tlocalhost\n127.0.1.1\tsandbox\n";
  int fd = openat (b->scratch_fd, "hosts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return sq_err_set (err, errno, "write the job's hosts file");
  /* Readable by the job whatever the caller's umask. */
  int r = fchmod (fd, 0444);
  if (r == 0)
    r = sq_write_all (fd, base, sizeof base - 1);
  if (r == 0)
    r = sq_write_all (fd, b->net->hosts, strlen (b->net->hosts));
  if (r == 0 && b->net->hosts[0] && b->net->hosts[strlen (b->net->hosts) - 1] != '\n')
    r = sq_write_all (fd, "\n", 1);
  int e = errno;
  close (fd);
  return r < 0 ? sq_err_set (err, e, "write the job's hosts file") : 0;
}

/* IPv4 forwarding is the operator's to turn on, not sandq's. */
static int
check_forwarding (sq_err *err)
{
  char v[4] = "";
  int fd = open ("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      if (read (fd, v, sizeof v - 1) < 0)
        v[0] = '\0';
      close (fd);
    }
  if (v[0] != '1')
    return sq_err_set (err, 0,
                       "this host does not forward IPv4 (sysctl net.ipv4.ip_forward is "
                       "not 1), so a job's network cannot reach anything; turn it on "
                       "or run the job without a network");
  return 0;
}

int
sbx_net_start (struct sbx *b, pid_t init_pid, sq_err *err)
{
  struct sbx_netstate *ns = b->net;
  char helper[PATH_MAX], hint[16], path[64], line[600];
  char dests[SBX_NET_MAX_DESTS][32];
  char *argv[SBX_NET_MAX_DESTS + 3];
  char *envp[] = { NULL };
  int sv[2] = { -1, -1 }, nsfd = -1, hi_ns = -1, hi_ctl = -1, r;
  posix_spawn_file_actions_t fa;

  if (check_forwarding (err) < 0)
    return -1;
  if (ns->hosts && write_hosts (b, err) < 0)
    return -1;
  snprintf (path, sizeof path, "/proc/%d/ns/net", (int) init_pid);
  nsfd = open (path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return sq_err_set (err, errno, "open the sandbox's network namespace");
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      close (nsfd);
      return sq_err_set (err, errno, "make the network helper's socket");
    }
  /* Out of the way of the 3 and 4 they become. */
  hi_ns = fcntl (nsfd, F_DUPFD_CLOEXEC, 10);
  hi_ctl = fcntl (sv[1], F_DUPFD_CLOEXEC, 10);
  close (nsfd);
  close (sv[1]);
  sbx_helper_path ("sandq-net", helper, sizeof helper);
  snprintf (hint, sizeof hint, "%u",
            (unsigned) (getpid () * 64u + b->slot) % SBX_NET_LINKS);
  argv[0] = helper;
  argv[1] = hint;
  for (unsigned i = 0; i < ns->net.ndests; i++)
    {
      sbx_net_dest_format (&ns->net.dests[i], dests[i], sizeof dests[i]);
      argv[2 + i] = dests[i];
    }
  argv[2 + ns->net.ndests] = NULL;
  r = hi_ns < 0 || hi_ctl < 0 ? errno : posix_spawn_file_actions_init (&fa);
  if (r == 0)
    {
      posix_spawn_file_actions_adddup2 (&fa, hi_ns, 3);
      posix_spawn_file_actions_adddup2 (&fa, hi_ctl, 4);
      r = posix_spawn (&ns->pid, helper, &fa, NULL, argv, envp);
      posix_spawn_file_actions_destroy (&fa);
    }
  if (hi_ns >= 0)
    close (hi_ns);
  if (hi_ctl >= 0)
    close (hi_ctl);
  if (r != 0)
    {
      close (sv[0]);
      ns->pid = -1;
      return sq_err_set (err, r, "start the network helper '%s'", helper);
    }
  ns->ctl = sv[0];
  if (read_line (ns->ctl, line, sizeof line, sq_now_ms () + NET_ANSWER_MS) < 0)
    return sq_err_set (err, 0, "the network helper '%s' did not answer", helper);
  if (strncmp (line, "ok ", 3) != 0)
    return sq_err_set (err, 0, "set up the job's network: %s",
                       strncmp (line, "error ", 6) == 0 ? line + 6 : line);
  return 0;
}

/* Ends the helper; with res, takes its figures into res. */
static void
net_stop (struct sbx_netstate *ns, struct sbx_result *res)
{
  char line[128];

  if (ns->ctl >= 0)
    {
      uint64_t deadline = sq_now_ms () + NET_ANSWER_MS;
      shutdown (ns->ctl, SHUT_WR);
      while (res && read_line (ns->ctl, line, sizeof line, deadline) > 0)
        {
          unsigned long long n;
          char addr[64], proto[16];
          unsigned port;
          if (sscanf (line, "refused %llu", &n) == 1)
            res->net_refused = n;
          else if (sscanf (line, "dest %63s %15s %u", addr, proto, &port) == 3)
            {
              size_t used = strlen (res->net_refused_to);
              snprintf (res->net_refused_to + used, sizeof res->net_refused_to - used,
                        "%s%s:%u/%s", used ? ", " : "", addr, port, proto);
            }
        }
      close (ns->ctl);
      ns->ctl = -1;
    }
  if (ns->pid > 0)
    {
      if (!res)
        kill (ns->pid, SIGKILL);
      while (waitpid (ns->pid, NULL, 0) < 0 && errno == EINTR)
        ;
      ns->pid = -1;
    }
}

void
sbx_net_finish (struct sbx *b, struct sbx_result *res)
{
  net_stop (b->net, res);
  if (res->net_refused == 0)
    return;
  size_t used = strlen (res->message);
  snprintf (res->message + used, sizeof res->message - used,
            "%s network policy refused %llu connection attempt%s (to %s)",
            used && res->message[used - 1] == '.' ? " Its" : "; its",
            (unsigned long long) res->net_refused, res->net_refused == 1 ? "" : "s",
            res->net_refused_to[0] ? res->net_refused_to : "an unlisted destination");
}

void
sbx_net_free (struct sbx *b)
{
  if (!b->net)
    return;
  net_stop (b->net, NULL);
  free (b->net->hosts);
  free (b->net);
  b->net = NULL;
}

int
sbx_net_has_hosts (const struct sbx *b)
{
  return b->net && b->net->hosts;
}

int
sbx_net_resolve (struct sbx_net *net, char *hosts, size_t hosts_len, const char *dest,
                 sq_err *err)
{
  const char *colon = strrchr (dest, ':');
  char host[256];
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
  struct addrinfo *ai = NULL;
  uint64_t port;
  int r;

  if (!colon || colon == dest || (size_t) (colon - dest) >= sizeof host)
    return sq_err_set (err, EINVAL, "network destination '%.100s': expected HOST:PORT",
                       dest);
  sq_err perr = { 0 };
  if (sq_parse_uint (colon + 1, "port", 1, 65535, &port, &perr) < 0)
    return sq_err_set (err, EINVAL, "network destination '%.100s': %s", dest, perr.msg);
  memcpy (host, dest, (size_t) (colon - dest));
  host[colon - dest] = '\0';
  if (strspn (host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
      != strlen (host))
    return sq_err_set (err, EINVAL,
                       "network destination '%.100s': a host is a name or an IPv4 "
                       "address",
                       dest);
  r = getaddrinfo (host, NULL, &hints, &ai);
  if (r != 0)
    return sq_err_set (err, 0, "network destination '%.100s': cannot resolve '%s': %s",
                       dest, host, gai_strerror (r));
  int literal = ai && strspn (host, "0123456789.") == strlen (host);
  for (struct addrinfo *a = ai; a; a = a->ai_next)
    {
      uint32_t addr = ntohl (((struct sockaddr_in *) a->ai_addr)->sin_addr.s_addr);
      int dup = 0;
      for (unsigned i = 0; i < net->ndests; i++)
        dup |= net->dests[i].addr == addr && net->dests[i].port == port;
      if (!dup && net->ndests == SBX_NET_MAX_DESTS)
        {
          freeaddrinfo (ai);
          return sq_err_set (err, E2BIG,
                             "network destinations: more than %d addresses and ports",
                             SBX_NET_MAX_DESTS);
        }
      if (!dup)
        net->dests[net->ndests++] = (struct sbx_net_dest){ addr, (uint16_t) port };
      if (!literal)
        {
          char line[300];
          struct in_addr in = { htonl (addr) };
          int n = snprintf (line, sizeof line, "%s\t%s\n", inet_ntoa (in), host);
          if (!strstr (hosts, line))
            {
              if (strlen (hosts) + (size_t) n >= hosts_len)
                {
                  freeaddrinfo (ai);
                  return sq_err_set (err, E2BIG,
                                     "network destinations: the names take more than %zu "
                                     "bytes of /etc/hosts",
                                     hosts_len - 1);
                }
              strcat (hosts, line);
            }
        }
    }
  freeaddrinfo (ai);
  return 0;
}
