#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
sq_utf8_seq (const unsigned char *p, size_t avail)
{
  size_t n;
  uint32_t c;

  if (avail == 0)
    return 0;
  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2, c = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    n = 3, c = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    n = 4, c = p[0] & 0x07;
  else
    return 0;
  if (avail < n)
    return 0;
  for (size_t i = 1; i < n; i++)
    {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      c = c << 6 | (p[i] & 0x3f);
    }
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
      || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  return n;
}

void
sq_utf8_sanitize (char *s)
{
  unsigned char *p = (unsigned char *) s;
  size_t left = strlen (s);

  while (left > 0)
    {
      size_t n = sq_utf8_seq (p, left);
      if (n == 0)
        {
          *p = '?';
          n = 1;
        }
      p += n;
      left -= n;
    }
}

int
sq_err_set (sq_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (!err)
    return -1;
  err->fault = SQ_FAULT_SANDQ;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if (errnum && (size_t) n < sizeof err->msg)
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  sq_utf8_sanitize (err->msg);
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
  sq_utf8_sanitize (err->msg);
  return -1;
}

void
sq_err_clear (sq_err *err)
{
  if (err)
    {
      err->code = 0;
      err->fault = SQ_FAULT_SANDQ;
      err->msg[0] = '\0';
    }
}

int
sq_err_input (sq_err *err)
{
  if (err)
    err->fault = SQ_FAULT_INPUT;
  return -1;
}

const char *
sq_fault_status (const sq_err *err)
{
  return err->fault == SQ_FAULT_INPUT ? "rejected" : "system_error";
}

void
sq_vrefuse (int code, const char *prog, const char *help, const char *prefix,
            const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf (msg, sizeof msg, fmt, ap);
  if (help && !strstr (msg, "; "))
    fprintf (stderr, "%s: %s%s; see %s --help\n", prog, prefix, msg, help);
  else
    fprintf (stderr, "%s: %s%s\n", prog, prefix, msg);
  exit (code);
}
