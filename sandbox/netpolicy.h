/* A sandbox's network policy: the destinations a job may open TCP
 * connections to, and the pool its links are numbered from. Shared by the
 * sandbox library and its helper sandq-net (sandbox/net.c). */
#ifndef SANDQ_NETPOLICY_H
#define SANDQ_NETPOLICY_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Each job with a network gets one /30 of this pool: its link's host end
 * is .1, its own address .2 of the four. */
#define SBX_NET_POOL_BASE "10.231.0.0"
#define SBX_NET_POOL SBX_NET_POOL_BASE "/16"
#define SBX_NET_LINKS 16384 /* /30s in the pool */

#define SBX_NET_MAX_DESTS 64 /* destinations per job */
#define SBX_NET_SHOWN 4      /* refused destinations a verdict names */
#define SBX_NET_HOSTS_MAX 4096
/* New connections a job may open, in nftables' words: beyond it they are
 * refused and counted like any other. */
#define SBX_NET_RATE "50/second burst 200 packets"

/* One destination: an IPv4 address and a TCP port, host byte order. */
struct sbx_net_dest
{
  uint32_t addr;
  uint16_t port;
};

/* "A.B.C.D:PORT" (decimal, PORT 1-65535); 0 or -1. */
static inline int
sbx_net_dest_parse (const char *s, struct sbx_net_dest *d)
{
  unsigned a, b, c, e, port;
  int used = 0;

  if (sscanf (s, "%3u.%3u.%3u.%3u:%5u%n", &a, &b, &c, &e, &port, &used) != 5 || s[used]
      || a > 255 || b > 255 || c > 255 || e > 255 || port == 0 || port > 65535
      || strspn (s, "0123456789.:") != strlen (s))
    return -1;
  d->addr = (uint32_t) a << 24 | (uint32_t) b << 16 | (uint32_t) c << 8 | e;
  d->port = (uint16_t) port;
  return 0;
}

static inline void
sbx_net_dest_format (const struct sbx_net_dest *d, char *buf, size_t len)
{
  snprintf (buf, len, "%u.%u.%u.%u:%u", d->addr >> 24, (d->addr >> 16) & 255,
            (d->addr >> 8) & 255, d->addr & 255, d->port);
}

#endif
