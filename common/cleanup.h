/* Scope-bound cleanup for locals, in the style of bubblewrap and crun.
 *
 * Declare with an initial value and hand ownership on with steal_*():
 *
 *     cleanup_free char *buf = NULL;
 *     cleanup_close int fd = -1;
 *     ...
 *     return steal_pointer (&buf);
 */
#ifndef SQ_CLEANUP_H
#define SQ_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
sq_cleanup_freep (void *p)
{
  void **pp = (void **) p;
  free (*pp);
}

/* Closes without disturbing errno, so an error path can still report it. */
static inline void
sq_cleanup_closep (int *fd)
{
  int saved = errno;
  if (*fd >= 0)
    close (*fd);
  errno = saved;
}

static inline void
sq_cleanup_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

#define cleanup_free __attribute__ ((cleanup (sq_cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (sq_cleanup_closep)))
#define cleanup_fclose __attribute__ ((cleanup (sq_cleanup_fclosep)))

static inline void *
sq_steal_pointer (void *pp)
{
  void **p = (void **) pp;
  void *v = *p;
  *p = NULL;
  return v;
}

static inline int
sq_steal_fd (int *fd)
{
  int v = *fd;
  *fd = -1;
  return v;
}

#define steal_pointer(pp) sq_steal_pointer (pp)
#define steal_fd(fdp) sq_steal_fd (fdp)

#define SQ_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#endif
