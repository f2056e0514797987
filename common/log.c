#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "sandq";
static int use_prefix;
static enum sq_log_level max_level = SQ_LOG_INFO;
static __thread char job[128];

void
sq_log_init (const char *progname)
{
  const char *p = getenv ("SQ_LOG_PREFIX");

  prog = progname;
  if (p)
    use_prefix = strcmp (p, "1") == 0;
  else
    use_prefix = getenv ("JOURNAL_STREAM") != NULL;
  p = getenv ("SQ_LOG_LEVEL");
  if (p && sq_log_level_from_name (p) >= 0)
    max_level = (enum sq_log_level) sq_log_level_from_name (p);
}

void
sq_log_set_level (enum sq_log_level level)
{
  max_level = level;
}

int
sq_log_level_from_name (const char *name)
{
  static const struct
  {
    const char *name;
    int level;
  } names[] = {
    { "err", SQ_LOG_ERR },       { "error", SQ_LOG_ERR }, { "warning", SQ_LOG_WARNING },
    { "notice", SQ_LOG_NOTICE }, { "info", SQ_LOG_INFO }, { "debug", SQ_LOG_DEBUG },
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (names[i].name, name) == 0)
      return names[i].level;
  return -1;
}

void
sq_log_set_job (const char *job_id)
{
  if (!job_id)
    job[0] = '\0';
  else
    snprintf (job, sizeof job, "%s", job_id);
}

static const char *
level_name (enum sq_log_level level)
{
  switch (level)
    {
    case SQ_LOG_ERR:
      return "error";
    case SQ_LOG_WARNING:
      return "warning";
    case SQ_LOG_NOTICE:
      return "notice";
    case SQ_LOG_INFO:
      return "info";
    case SQ_LOG_DEBUG:
      return "debug";
    }
  return "?";
}

void
sq_log (enum sq_log_level level, const char *fmt, ...)
{
  char line[2048];
  size_t n = 0;
  va_list ap;

  if (level > max_level)
    return;
  if (use_prefix)
    n = snprintf (line, sizeof line, "<%d>", (int) level);
  else
    {
      struct timespec ts;
      struct tm tm;
      clock_gettime (CLOCK_REALTIME, &ts);
      gmtime_r (&ts.tv_sec, &tm);
      n = strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
      n += snprintf (line + n, sizeof line - n,
                     ".%03ldZ %s[%d] %s: ", ts.tv_nsec / 1000000, prog, (int) getpid (),
                     level_name (level));
    }
  if (job[0] && n < sizeof line)
    n += snprintf (line + n, sizeof line - n, "job=%s ", job);
  if (n < sizeof line)
    {
      va_start (ap, fmt);
      n += vsnprintf (line + n, sizeof line - n, fmt, ap);
      va_end (ap);
    }
  if (n >= sizeof line - 1)
    n = sizeof line - 2;
  line[n++] = '\n';
  /* One write per line keeps lines from concurrent threads whole. */
  if (write (STDERR_FILENO, line, n) < 0)
    return;
}
