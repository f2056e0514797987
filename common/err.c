#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
sq_err_set (sq_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (!err)
    return -1;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if (errnum && (size_t) n < sizeof err->msg)
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  err->code = errnum;
  return -1;
}

int
sq_err_wrap (sq_err *err, const char *fmt, ...)
{
  char prefix[SQ_ERR_MSG_MAX];
  char old[SQ_ERR_MSG_MAX];
  va_list ap;

  if (!err)
    return -1;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, err->msg, sizeof old);
  snprintf (err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return -1;
}

void
sq_err_clear (sq_err *err)
{
  if (err)
    {
      err->code = 0;
      err->msg[0] = '\0';
    }
}
