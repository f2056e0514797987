/* Errors that travel up the stack instead of ending the process.
 *
 * A fallible function takes `sq_err *err` and returns -1 (or NULL) after
 * filling it in with sq_err_set() at the place the syscall failed. Callers
 * add context with sq_err_wrap() on the way up. Only main() prints it.
 *
 * The struct lives on the caller's stack and never allocates, so it is also
 * safe to fill in between clone() and execve().
 */
#ifndef SQ_ERR_H
#define SQ_ERR_H

#include <stdarg.h>

#include <stddef.h>

#define SQ_ERR_MSG_MAX 512

/* Whose fault an error is, said where it is made: it alone decides a
 * job's verdict when the job cannot run (sq_fault_status). What the
 * program does once it runs is the sandbox's verdict, not an error. */
enum sq_fault
{
  SQ_FAULT_SANDQ = 0, /* sandq's or the host's: system_error, retried elsewhere */
  SQ_FAULT_INPUT,     /* the job's spec, limits or input: rejected, never retried */
};

typedef struct sq_err
{
  int code;                 /* errno at the failure, or 0 */
  enum sq_fault fault;      /* SQ_FAULT_SANDQ unless marked */
  char msg[SQ_ERR_MSG_MAX]; /* "what failed: why", lowercase, no full stop */
} sq_err;

/* Sets *err to the formatted message, valid UTF-8 (see sq_utf8_sanitize).
 * When errnum is non-zero, ": strerror" is appended. Always returns -1 so
 * callers can `return sq_err_set (...)`. */
int sq_err_set (sq_err *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefixes the existing message with context: "context: old message".
 * Returns -1. */
int sq_err_wrap (sq_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

void sq_err_clear (sq_err *err);

/* A program's refusal, on one line of stderr: "PROG: WHAT: WHY; WHAT TO
 * DO". The message (after prefix) is "WHAT: WHY", with "; WHAT TO DO" when
 * it has advice of its own; otherwise, with help set, "; see HELP --help"
 * is added. Exits with code. */
__attribute__ ((noreturn)) void sq_vrefuse (int code, const char *prog, const char *help,
                                            const char *prefix, const char *fmt,
                                            va_list ap);

/* Marks the error as the job input's fault (see enum sq_fault); returns
 * -1. sq_err_set makes every new error sandq's; sq_err_wrap keeps the
 * mark. */
int sq_err_input (sq_err *err);

/* The verdict of a job that could not run for this error: "rejected" or
 * "system_error". */
const char *sq_fault_status (const sq_err *err);

/* Makes s valid UTF-8 in place: every byte that does not begin a valid
 * sequence (stray continuation bytes, overlong forms, surrogates, code
 * points past U+10FFFF, a sequence cut short by truncation) becomes '?'.
 * Messages name paths and archive entries that users and jobs chose, and
 * end up in JSON, which must be UTF-8; sq_err_set and sq_err_wrap apply
 * it to every message. */
void sq_utf8_sanitize (char *s);

/* Length of the valid UTF-8 sequence at p (1 for any ASCII byte, NUL
 * included), or 0 if none begins there; looks at no more than avail
 * bytes. */
size_t sq_utf8_seq (const unsigned char *p, size_t avail);

#endif
