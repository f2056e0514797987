/* A running job's output, published as it comes (sandq:{Q}:live:<id>),
 * for "sandq logs -f" and "sandq wait" on a terminal.
 *
 * The job's stdout and stderr go to memfds (sandq-init writes them, see
 * sandbox/init_proto.h); the supervisor reads what is new every
 * LIVE_EVERY_MS and appends it, at most SQ_LIVE_MAX bytes a job, then a
 * marker that the rest is in the result. A job that writes nothing costs
 * no round trip. */
#define _GNU_SOURCE
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"

#define LIVE_PIECE (256u << 10) /* per stream per round */

struct piece
{
  char queue[SQ_QUEUE_MAX + 1], id[SQ_ID_MAX + 1];
  char which;
  uint64_t off;
  size_t len;
  char *data;
};

void
live_publish (struct worker *w, struct sq_proto *p)
{
  struct piece pc[SQ_MAX_SLOTS * 2 + SQ_MAX_SLOTS];
  int n = 0;

  pthread_mutex_lock (&w->lock);
  for (int i = 0; i < w->cfg.concurrency; i++)
    {
      struct slot *s = &w->slots[i];
      if (s->state != SLOT_BUSY || s->live_fd[0] < 0 || s->live_done)
        continue;
      for (int k = 0; k < 2; k++)
        {
          uint64_t room = SQ_LIVE_MAX - s->live_sent;
          size_t want = room < LIVE_PIECE ? (size_t) room : LIVE_PIECE;
          char *buf = want ? malloc (want) : NULL;
          ssize_t got
              = buf ? pread (s->live_fd[k], buf, want, (off_t) s->live_off[k]) : 0;
          if (got <= 0)
            {
              free (buf);
              continue;
            }
          pc[n] = (struct piece){ .which = k ? 'e' : 'o',
                                  .off = s->live_off[k],
                                  .len = (size_t) got,
                                  .data = buf };
          snprintf (pc[n].queue, sizeof pc[n].queue, "%s", s->queue);
          snprintf (pc[n].id, sizeof pc[n].id, "%s", s->id);
          n++;
          s->live_off[k] += (uint64_t) got;
          s->live_sent += (uint64_t) got;
        }
      if (s->live_sent >= SQ_LIVE_MAX)
        {
          s->live_done = 1;
          pc[n] = (struct piece){ .which = 'x' };
          snprintf (pc[n].queue, sizeof pc[n].queue, "%s", s->queue);
          snprintf (pc[n].id, sizeof pc[n].id, "%s", s->id);
          n++;
        }
    }
  pthread_mutex_unlock (&w->lock);
  for (int i = 0; i < n; i++)
    {
      sq_err err = { 0 };
      if (sq_live_append (p, pc[i].queue, pc[i].id, pc[i].which, pc[i].off,
                          pc[i].data ? pc[i].data : "", pc[i].len, &err)
          < 0)
        sq_debug ("live output of %s: %s", pc[i].id, err.msg);
      free (pc[i].data);
    }
}
