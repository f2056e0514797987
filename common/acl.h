/* sandq's roles as Redis ACL rules (Redis 7): what each role may run and
 * which keys it may touch. The protocol's keys are named here as in
 * proto.c and fleet.c; docs/operations.md explains the roles. */
#ifndef SQ_ACL_H
#define SQ_ACL_H

#include <stddef.h>

enum sq_role
{
  SQ_ROLE_WORKER,    /* every queue's keys, the registry; runs jobs */
  SQ_ROLE_OPERATOR,  /* pause, drain, dead letters, stats; no inputs or results */
  SQ_ROLE_SUBMITTER, /* its team's queues only */
};

/* The ACL rule of a role, after "user NAME on #HASH ": key patterns and
 * commands. queues: the queues it covers (the operator's and a
 * submitter's; the worker's rule covers every queue). Each queue must be
 * a valid queue name (sq_valid_name). Returns the length written, or -1
 * if buf is too small. */
int sq_acl_rule (enum sq_role role, const char *const *queues, int nqueues, char *buf,
                 size_t len);

#endif
