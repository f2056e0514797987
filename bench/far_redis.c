/* A Redis that is further away: a unix-socket relay in front of the
 * benchmark's redis-server that holds every chunk of bytes, each way, for
 * a fixed delay before passing it on, as a network between hosts does.
 * A fleet's workers and clients reach Redis over such a network, where
 * each round trip costs far more than on a local socket.
 *
 * Two threads per connection, one each way: each reads a chunk, holds it
 * for the delay and passes it on. Bytes that arrive meanwhile wait their
 * turn, which a link would not make them do; for one job at a time, the
 * only use here, that does not arise. The relay's fds stay open for the
 * benchmark's life.
 */
#define _GNU_SOURCE
#include "far_redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"

struct pump
{
  int in, out;
  long delay_ns;
};

struct relay
{
  int listen_fd;
  char target[108];
  long delay_ns;
};

static int
unix_fd (const char *path, int listen_too)
{
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || strlen (path) >= sizeof a.sun_path)
    goto fail;
  strcpy (a.sun_path, path);
  if (listen_too ? bind (fd, (struct sockaddr *) &a, sizeof a) < 0 || listen (fd, 64) < 0
                 : connect (fd, (struct sockaddr *) &a, sizeof a) < 0)
    goto fail;
  return fd;
fail:
  if (fd >= 0)
    close (fd);
  return -1;
}

static void
add_ns (struct timespec *t, long ns)
{
  t->tv_nsec += ns;
  while (t->tv_nsec >= 1000000000L)
    {
      t->tv_nsec -= 1000000000L;
      t->tv_sec++;
    }
}

static void *
pump_main (void *arg)
{
  struct pump *p = arg;
  char buf[1 << 16];

  for (;;)
    {
      ssize_t n = read (p->in, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      struct timespec due;
      clock_gettime (CLOCK_MONOTONIC, &due);
      add_ns (&due, p->delay_ns);
      while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        ;
      if (sq_write_all (p->out, buf, (size_t) n) < 0)
        break;
    }
  shutdown (p->out, SHUT_WR);
  shutdown (p->in, SHUT_RD);
  free (p);
  return NULL;
}

static int
start_pump (int in, int out, long delay_ns)
{
  struct pump *p = malloc (sizeof *p);
  pthread_t t;

  if (!p)
    return -1;
  *p = (struct pump){ in, out, delay_ns };
  if (pthread_create (&t, NULL, pump_main, p) != 0)
    {
      free (p);
      return -1;
    }
  pthread_detach (t);
  return 0;
}

static void *
accept_main (void *arg)
{
  struct relay *r = arg;

  for (;;)
    {
      int c = accept4 (r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          break;
        }
      int s = unix_fd (r->target, 0);
      if (s < 0 || start_pump (c, s, r->delay_ns) < 0
          || start_pump (s, c, r->delay_ns) < 0)
        {
          fprintf (stderr, "far-redis: cannot relay a connection: %s\n",
                   strerror (errno));
          close (c);
          if (s >= 0)
            close (s);
        }
    }
  return NULL;
}

int
far_redis_start (const char *target, const char *path, long delay_us)
{
  struct relay *r = calloc (1, sizeof *r);
  pthread_t t;

  if (!r || strlen (target) >= sizeof r->target)
    return -1;
  snprintf (r->target, sizeof r->target, "%s", target);
  r->delay_ns = delay_us * 1000L;
  r->listen_fd = unix_fd (path, 1);
  if (r->listen_fd < 0 || pthread_create (&t, NULL, accept_main, r) != 0)
    return -1;
  pthread_detach (t);
  return 0;
}
