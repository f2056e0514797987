/* The progress line of long CLI work on a terminal: a phase, how much of
 * how much, a bar, the rate and the time left, redrawn at most ten times a
 * second. Nothing is drawn when stderr is not a terminal. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "cli.h"

#define REDRAW_MS 100

void
cli_progress_start (struct cli_progress *p, const char *phase, uint64_t total, int on)
{
  memset (p, 0, sizeof *p);
  p->phase = phase;
  p->total = total;
  p->on = on;
  p->start_ms = sq_now_ms ();
}

static void
format_eta (uint64_t s, char *buf, size_t len)
{
  if (s >= 3600)
    snprintf (buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
  else if (s >= 60)
    snprintf (buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
  else
    snprintf (buf, len, "%" PRIu64 "s", s);
}

void
cli_progress_update (struct cli_progress *p, uint64_t done)
{
  uint64_t now = sq_now_ms ();
  char a[32], b[32], rate[40] = "", eta[40] = "";

  if (!p->on || (now - p->last_ms < REDRAW_MS && done < p->total))
    return;
  p->last_ms = now;
  p->drawn = 1;
  if (done > p->total)
    done = p->total;
  uint64_t elapsed = now - p->start_ms;
  int pct = p->total ? (int) (done * 100 / p->total) : 100;
  sq_format_size (done, a, sizeof a);
  sq_format_size (p->total, b, sizeof b);
  /* A rate from less than a fifth of a second says little, until the
   * phase is over. */
  if (done >= p->total || (elapsed >= 200 && done > 0))
    {
      char r[32], t[16];
      uint64_t per_s = done * 1000 / (elapsed ? elapsed : 1);
      sq_format_size (per_s, r, sizeof r);
      snprintf (rate, sizeof rate, "  %s/s", r);
      if (done < p->total)
        {
          format_eta ((p->total - done + per_s - 1) / (per_s ? per_s : 1), t, sizeof t);
          snprintf (eta, sizeof eta, "  ETA %s", t);
        }
      else if (elapsed < 10000)
        snprintf (eta, sizeof eta, "  in %.1fs", (double) elapsed / 1000);
      else
        {
          format_eta ((elapsed + 999) / 1000, t, sizeof t);
          snprintf (eta, sizeof eta, "  in %s", t);
        }
    }
  fprintf (stderr, "\r%-9s %9s of %-9s [%-24.*s] %3d%%%s%s\033[K", p->phase, a, b,
           pct * 24 / 100, "########################", pct, rate, eta);
  fflush (stderr);
}

void
cli_progress_end (struct cli_progress *p)
{
  if (!p->on)
    return;
  p->last_ms = 0;
  cli_progress_update (p, p->total);
  fputc ('\n', stderr);
}
