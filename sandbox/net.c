/* sandq-net: gives one sandbox's network namespace a filtered link out.
 *
 *   sandq-net HINT DEST...        DEST: IPv4:PORT, TCP
 *
 * fd 3 is the job's network namespace, fd 4 a socket to the sandbox
 * library (sandbox/netlink.c starts this helper; see docs/security.md).
 * In the caller's namespace it makes a veth pair named sqnXXXX, the
 * host's end 10.231.X.Y+1/30, the job's end eth0 at +2/30 with a default
 * route through the host's end, and masquerades what leaves
 * 10.231.0.0/16 (table ip sandq_nat, shared by every sandq on the host).
 * In the job's namespace, which the job has no capability over, an
 * nftables table lets out loopback, replies, and new TCP connections to
 * the DESTs only (at most SBX_NET_RATE new ones: the host's connection
 * tracking and the masquerade's ports are shared); everything else it rejects (ICMP
 * "administratively prohibited": a refused connection fails at once, it does not hang),
 * counts, and keeps the first few destinations of. IPv6 is off on eth0.
 *
 * It answers "ok IFNAME\n" or "error MESSAGE\n" on fd 4, then waits for
 * the library to shut its end (the job is over), answers
 * "refused N\n" and up to SBX_NET_SHOWN "dest ADDR PROTO PORT\n" lines,
 * and exits. The link dies with the job's namespace (its last process
 * and this helper's fd); nothing of the filter outlives it.
 *
 * A program of its own because libnftables is a glibc library and the
 * sandbox CLI is musl, and so that only jobs with a network pay for it.
 * The index HINT picks the first /30 to try; a name already taken on the
 * host (another sandbox's) moves to the next. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <libmnl/libmnl.h>
#include <nftables/libnftables.h>

#include "netpolicy.h"

#define NETNS_FD 3
#define CTL_FD 4

static char msg[512];

static int
failf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return -1;
}

static void
answer (const char *fmt, ...)
{
  char buf[600];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n > (int) sizeof buf - 1)
    n = (int) sizeof buf - 1;
  if (write (CTL_FD, buf, (size_t) n) != n)
    _exit (1);
}

/* ---- rtnetlink, through libmnl ---- */

struct rtnl
{
  struct mnl_socket *nl;
  unsigned seq, portid;
};

static int
rtnl_open (struct rtnl *r)
{
  r->nl = mnl_socket_open (NETLINK_ROUTE);
  if (!r->nl || mnl_socket_bind (r->nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return failf ("open a netlink socket: %s", strerror (errno));
  r->portid = mnl_socket_get_portid (r->nl);
  r->seq = (unsigned) time (NULL);
  return 0;
}

/* Sends one request and waits for its acknowledgement; -1 and errno. */
static int
rtnl_talk (struct rtnl *r, struct nlmsghdr *nlh)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  ssize_t n;
  int ret;

  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++r->seq;
  if (mnl_socket_sendto (r->nl, nlh, nlh->nlmsg_len) < 0)
    return -1;
  do
    {
      n = mnl_socket_recvfrom (r->nl, buf, sizeof buf);
      if (n < 0)
        return -1;
      ret = mnl_cb_run (buf, (size_t) n, r->seq, r->portid, NULL, NULL);
    }
  while (ret > 0);
  return ret < 0 ? -1 : 0;
}

/* A request's header and its fixed part (zeroed), in buf. */
static struct nlmsghdr *
rtnl_msg (char *buf, uint16_t type, uint16_t flags, void **fixed, size_t fixed_len)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  *fixed = mnl_nlmsg_put_extra_header (nlh, fixed_len);
  return nlh;
}

/* The pair, its peer made as eth0 straight in the job's namespace. */
static int
veth_new (struct rtnl *r, const char *name)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifinfomsg *ifm;
  struct nlmsghdr *nlh = rtnl_msg (buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                                   (void **) &ifm, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  struct nlattr *info = mnl_attr_nest_start (nlh, IFLA_LINKINFO);
  mnl_attr_put_strz (nlh, IFLA_INFO_KIND, "veth");
  struct nlattr *data = mnl_attr_nest_start (nlh, IFLA_INFO_DATA);
  struct nlattr *peer = mnl_attr_nest_start (nlh, VETH_INFO_PEER);
  memset (mnl_nlmsg_get_payload_tail (nlh), 0, sizeof (struct ifinfomsg));
  nlh->nlmsg_len += MNL_ALIGN (sizeof (struct ifinfomsg));
  mnl_attr_put_strz (nlh, IFLA_IFNAME, "eth0");
  mnl_attr_put_u32 (nlh, IFLA_NET_NS_FD, NETNS_FD);
  mnl_attr_nest_end (nlh, peer);
  mnl_attr_nest_end (nlh, data);
  mnl_attr_nest_end (nlh, info);
  return rtnl_talk (r, nlh);
}

static int
link_up (struct rtnl *r, unsigned index)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifinfomsg *ifm;
  struct nlmsghdr *nlh = rtnl_msg (buf, RTM_NEWLINK, 0, (void **) &ifm, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = (int) index;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  return rtnl_talk (r, nlh);
}

static int
addr_add (struct rtnl *r, unsigned index, uint32_t addr)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifaddrmsg *ifa;
  struct nlmsghdr *nlh = rtnl_msg (buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                                   (void **) &ifa, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 30;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = index;
  mnl_attr_put_u32 (nlh, IFA_LOCAL, htonl (addr));
  mnl_attr_put_u32 (nlh, IFA_ADDRESS, htonl (addr));
  return rtnl_talk (r, nlh);
}

static int
route_default (struct rtnl *r, unsigned index, uint32_t gw)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct rtmsg *rt;
  struct nlmsghdr *nlh = rtnl_msg (buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                                   (void **) &rt, sizeof *rt);
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32 (nlh, RTA_GATEWAY, htonl (gw));
  mnl_attr_put_u32 (nlh, RTA_OIF, index);
  return rtnl_talk (r, nlh);
}

/* A sysctl of the namespace this process is in (/proc/sys/net is the
 * reader's own). */
static int
set_sysctl (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write (fd, value, strlen (value));
  int e = errno;
  close (fd);
  errno = e;
  return n == (ssize_t) strlen (value) ? 0 : -1;
}

/* ---- nftables ---- */

static int
nft_run (struct nft_ctx *nft, const char *what, const char *cmd)
{
  if (nft_run_cmd_from_buffer (nft, cmd) == 0)
    return 0;
  const char *e = nft_ctx_get_error_buffer (nft);
  char line[300];
  snprintf (line, sizeof line, "%s", e && *e ? e : "no message");
  line[strcspn (line, "\n")] = '\0';
  return failf ("nftables: %s: %s", what, line);
}

static struct nft_ctx *
nft_open (void)
{
  struct nft_ctx *nft = nft_ctx_new (NFT_CTX_DEFAULT);
  if (!nft)
    {
      failf ("nftables: no context");
      return NULL;
    }
  nft_ctx_buffer_output (nft);
  nft_ctx_buffer_error (nft);
  return nft;
}

/* The job's filter. DESTs were checked by main. */
static int
job_filter (struct nft_ctx *nft, char **dests, int n)
{
  size_t cap = 1024 + (size_t) n * 48;
  char *cmd = malloc (cap), *p;
  int r;

  if (!cmd)
    return failf ("nftables: out of memory");
  p = cmd
      + snprintf (cmd, cap,
                  "table inet sandq {\n"
                  " counter refused { }\n"
                  " set first { type ipv4_addr . inet_proto . inet_service; size %d;"
                  " flags dynamic; }\n"
                  " chain output {\n"
                  "  type filter hook output priority filter; policy drop;\n"
                  "  oif \"lo\" accept\n"
                  "  ct state established,related accept\n"
                  "  ip daddr . tcp dport { ",
                  SBX_NET_SHOWN);
  for (int i = 0; i < n; i++)
    {
      char *colon = strrchr (dests[i], ':');
      p += snprintf (p, cap - (size_t) (p - cmd), "%s%.*s . %s", i ? ", " : "",
                     (int) (colon - dests[i]), dests[i], colon + 1);
    }
  snprintf (p, cap - (size_t) (p - cmd),
            " } ct state new limit rate " SBX_NET_RATE " accept\n"
            "  meta nfproto ipv4 meta l4proto { tcp, udp }"
            " add @first { ip daddr . meta l4proto . th dport }\n"
            "  counter name \"refused\" reject with icmpx admin-prohibited\n"
            " }\n"
            " chain input {\n"
            "  type filter hook input priority filter; policy drop;\n"
            "  iif \"lo\" accept\n"
            "  ct state established,related accept\n"
            " }\n"
            "}\n");
  r = nft_run (nft, "the job's filter", cmd);
  free (cmd);
  return r;
}

/* What leaves the pool through another link goes out with the host's
 * address. One table for every sandq on the host, rewritten whole in one
 * transaction, so that two helpers never add the rule twice. */
static int
host_nat (struct nft_ctx *nft)
{
  return nft_run (nft, "the host's masquerade",
                  "table ip sandq_nat {\n"
                  " chain postrouting {\n"
                  "  type nat hook postrouting priority srcnat; policy accept;\n"
                  " }\n"
                  "}\n"
                  "flush chain ip sandq_nat postrouting\n"
                  "add rule ip sandq_nat postrouting ip saddr " SBX_NET_POOL
                  " oifname != \"sqn*\" masquerade\n");
}

/* After the job: the counter and the destinations, from nft's listing. */
static void
report_refused (struct nft_ctx *nft)
{
  unsigned long long packets = 0;
  const char *out, *s;
  int shown = 0;

  if (nft_run_cmd_from_buffer (nft, "list counter inet sandq refused") == 0)
    {
      out = nft_ctx_get_output_buffer (nft);
      s = out ? strstr (out, "packets ") : NULL;
      if (s)
        packets = strtoull (s + 8, NULL, 10);
    }
  answer ("refused %llu\n", packets);
  if (nft_run_cmd_from_buffer (nft, "list set inet sandq first") != 0)
    return;
  out = nft_ctx_get_output_buffer (nft);
  s = out ? strstr (out, "elements = {") : NULL;
  if (!s)
    return;
  s += 12;
  /* "A . PROTO . PORT, ..." (PROTO a name or a number) */
  while (shown < SBX_NET_SHOWN)
    {
      char addr[64], proto[16];
      unsigned port;
      int used = 0;
      while (*s == ' ' || *s == '\n' || *s == '\t' || *s == ',')
        s++;
      if (sscanf (s, "%63[0-9.] . %15[a-z0-9] . %u%n", addr, proto, &port, &used) != 3)
        break;
      answer ("dest %s %s %u\n", addr, proto, port);
      shown++;
      s += used;
    }
}

static int
set_up (unsigned hint, char *ifname, size_t len)
{
  struct rtnl host = { 0 }, job = { 0 };
  struct nft_ctx *hn;
  unsigned index = 0, slot;
  uint32_t base;
  struct in_addr pool;

  inet_pton (AF_INET, SBX_NET_POOL_BASE, &pool);
  base = ntohl (pool.s_addr);
  if (rtnl_open (&host) < 0)
    return -1;
  for (unsigned i = 0; i < SBX_NET_LINKS; i++)
    {
      slot = (hint + i) % SBX_NET_LINKS;
      snprintf (ifname, len, "sqn%04x", slot);
      if (veth_new (&host, ifname) == 0)
        break;
      if (errno != EEXIST)
        return failf ("make the link '%s': %s", ifname, strerror (errno));
      ifname[0] = '\0';
    }
  if (!ifname[0])
    return failf ("all %d links of the pool %s are in use", SBX_NET_LINKS, SBX_NET_POOL);
  index = if_nametoindex (ifname);
  uint32_t host_ip = base + slot * 4 + 1, job_ip = host_ip + 1;
  char path[96];
  snprintf (path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
  set_sysctl (path, "1"); /* not every host has IPv6 */
  if (!index || addr_add (&host, index, host_ip) < 0 || link_up (&host, index) < 0)
    return failf ("set up the link '%s': %s", ifname, strerror (errno));
  hn = nft_open ();
  if (!hn || host_nat (hn) < 0)
    return -1;
  nft_ctx_free (hn);
  mnl_socket_close (host.nl);

  if (setns (NETNS_FD, CLONE_NEWNET) < 0)
    return failf ("enter the job's network namespace: %s", strerror (errno));
  if (rtnl_open (&job) < 0)
    return -1;
  unsigned eth0 = if_nametoindex ("eth0");
  set_sysctl ("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1");
  if (!eth0 || addr_add (&job, eth0, job_ip) < 0 || link_up (&job, eth0) < 0
      || route_default (&job, eth0, host_ip) < 0)
    return failf ("set up the job's link: %s", strerror (errno));
  mnl_socket_close (job.nl);
  return 0;
}

int
main (int argc, char **argv)
{
  char ifname[IF_NAMESIZE] = "";
  struct nft_ctx *nft;

  if (argc < 3 || fcntl (NETNS_FD, F_GETFD) < 0 || fcntl (CTL_FD, F_GETFD) < 0)
    {
      fprintf (stderr, "sandq-net: a helper of the sandq sandbox, which starts it; "
                       "it is not run by hand\n");
      return 2;
    }
  for (int i = 2; i < argc; i++)
    {
      struct sbx_net_dest d;
      if (sbx_net_dest_parse (argv[i], &d) < 0)
        {
          answer ("error bad destination '%.100s'\n", argv[i]);
          return 1;
        }
    }
  unsigned hint = (unsigned) strtoul (argv[1], NULL, 10);
  if (set_up (hint, ifname, sizeof ifname) < 0 || !(nft = nft_open ())
      || job_filter (nft, argv + 2, argc - 2) < 0)
    {
      answer ("error %s\n", msg);
      return 1;
    }
  answer ("ok %s\n", ifname);
  /* Until the library shuts its end: the job is over. */
  char c;
  while (read (CTL_FD, &c, 1) > 0)
    ;
  report_refused (nft);
  nft_ctx_free (nft);
  return 0;
}
