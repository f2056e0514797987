/* Waits on a queue's wake list with its claim sent behind the wait
 * (sq_claim_after_wake), as an idle worker slot does, and prints what it
 * got and how many round trips it took:
 *
 *   wake-claim URL QUEUE TIMEOUT_S [USER PASSWORD]
 *
 *   rc=1 id=ID round_trips=N waited_ms=MS
 *   rc=0 round_trips=N waited_ms=MS
 *   rc=-1 error=MESSAGE
 *
 * The claim is made as worker "wake-claim". Exits 0 unless the arguments
 * are wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/proto.h"
#include "../../common/redis.h"
#include "../../common/util.h"

int
main (int argc, char **argv)
{
  sq_redis r = { .timeout_ms = 30000 };
  struct sq_proto p;
  struct sq_claimed c;
  sq_err err = { 0 };

  if (argc != 4 && argc != 6)
    {
      fprintf (stderr, "usage: wake-claim URL QUEUE TIMEOUT_S [USER PASSWORD]\n");
      return 2;
    }
  if (sq_redis_parse_url (argv[1], &r.addr, &err) < 0)
    {
      fprintf (stderr, "wake-claim: %s\n", err.msg);
      return 2;
    }
  if (argc == 6)
    {
      snprintf (r.addr.user, sizeof r.addr.user, "%s", argv[4]);
      snprintf (r.addr.password, sizeof r.addr.password, "%s", argv[5]);
    }
  sq_proto_init (&p, &r);
  if (sq_redis_connect (&r, &err) < 0 || sq_proto_load_scripts (&p, &err) < 0)
    {
      printf ("rc=-1 error=%s\n", err.msg);
      return 0;
    }
  const char *queues[] = { argv[2] };
  unsigned long long before = r.ncommands;
  uint64_t t0 = sq_now_ms ();
  int rc = sq_claim_after_wake (&p, queues, 1, atoi (argv[3]), "wake-claim", 60000, &c,
                                &err);
  uint64_t waited = sq_now_ms () - t0;
  if (rc < 0)
    printf ("rc=-1 error=%s\n", err.msg);
  else if (rc == 1)
    printf ("rc=1 id=%s round_trips=%llu waited_ms=%llu\n", c.id, r.ncommands - before,
            (unsigned long long) waited);
  else
    printf ("rc=%d round_trips=%llu waited_ms=%llu\n", rc, r.ncommands - before,
            (unsigned long long) waited);
  if (rc == 1)
    sq_claimed_free (&c);
  sq_redis_close (&r);
  return 0;
}
