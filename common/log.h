/* One logging module for every sandq program.
 *
 * Lines go to stderr. When stderr is connected to journald (systemd sets
 * JOURNAL_STREAM) or SQ_LOG_PREFIX=1 is set, each line starts with the
 * syslog "<N>" level prefix that journald understands; otherwise it starts
 * with a timestamp and the level name. The job id of the calling thread,
 * when set with sq_log_set_job(), is added to every line as "job=ID".
 */
#ifndef SQ_LOG_H
#define SQ_LOG_H

enum sq_log_level
{
  SQ_LOG_ERR = 3,
  SQ_LOG_WARNING = 4,
  SQ_LOG_NOTICE = 5,
  SQ_LOG_INFO = 6,
  SQ_LOG_DEBUG = 7,
};

/* Names the program in each line and picks the format. Call once from main. */
void sq_log_init (const char *progname);

/* Lines above this level are dropped before they are formatted. */
void sq_log_set_level (enum sq_log_level level);

/* Parses "debug", "info", "notice", "warning", "err". Returns -1 if unknown. */
int sq_log_level_from_name (const char *name);

/* Tags the calling thread's lines with job=ID; NULL clears it. The string
 * is copied. */
void sq_log_set_job (const char *job_id);

void sq_log (enum sq_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define sq_err_log(...) sq_log (SQ_LOG_ERR, __VA_ARGS__)
#define sq_warn(...) sq_log (SQ_LOG_WARNING, __VA_ARGS__)
#define sq_notice(...) sq_log (SQ_LOG_NOTICE, __VA_ARGS__)
#define sq_info(...) sq_log (SQ_LOG_INFO, __VA_ARGS__)
#define sq_debug(...) sq_log (SQ_LOG_DEBUG, __VA_ARGS__)

#endif
