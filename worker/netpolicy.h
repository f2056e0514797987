/* The worker's network profiles: named sets of destinations an operator
 * lets jobs reach, and which queue may use which.
 *
 *   network.NAME = HOST:PORT, HOST:PORT     a profile
 *   network.NAME.env = VAR=VALUE            set in its jobs (repeatable)
 *   queue.Q.networks = NAME, NAME           what jobs of Q may ask for
 *                                           (default: every profile)
 *   queue.Q.network = NAME, NAME            what they get when they ask
 *                                           for none (default: none)
 *
 * Names are resolved when each job starts, by the worker (sandbox/
 * network.c): the addresses go into the job's filter and its /etc/hosts
 * from the same answer. */
#ifndef SQ_WORKER_NETPOLICY_H
#define SQ_WORKER_NETPOLICY_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/spec.h"
#include "../sandbox/sandbox.h"

#define SQ_MAX_NETWORKS 16
#define SQ_NETWORK_MAX_ENV 8

struct net_profile
{
  char name[SQ_NETWORK_NAME_MAX + 1];
  char dests[1024]; /* as configured */
  char *env[SQ_NETWORK_MAX_ENV + 1];
  int nenv;
};

struct net_queue_rule
{
  char queue[64];
  char allow[512]; /* "" : unset */
  char dflt[512];
};

struct net_config
{
  struct net_profile profiles[SQ_MAX_NETWORKS];
  int nprofiles;
  struct net_queue_rule rules[16];
  int nrules;
};

/* One config option: 1 if it was a network option (err set if it was
 * wrong), 0 if not one. */
int netcfg_option (struct net_config *nc, const char *name, const char *value,
                   sq_err *err);

/* After all options: every name a queue rule uses is a profile. */
int netcfg_check (const struct net_config *nc, sq_err *err);

/* A job's network: the profiles it asked for (or its queue's default),
 * each allowed for its queue, resolved. *mask gets the profiles' bits (0:
 * no network). A profile the queue does not offer is the spec's fault; a
 * name that does not resolve, the host's. */
struct job_network
{
  struct sbx_net net;
  char hosts[SBX_NET_HOSTS_MAX + 1];
  const char *env[SQ_MAX_NETWORKS * SQ_NETWORK_MAX_ENV + 1];
  int nenv;
  uint32_t mask;
};

int netcfg_for_job (const struct net_config *nc, const char *queue,
                    const struct sq_spec *spec, struct job_network *jn, sq_err *err);

void netcfg_free (struct net_config *nc);

#endif
