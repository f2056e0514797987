/* The worker's systemd notifications (notify.c). No-ops outside systemd. */
#ifndef SQ_NOTIFY_H
#define SQ_NOTIFY_H

#include <stddef.h>

#include "../common/err.h"

struct worker;

/* Loads soname (dlopen) and its functions names[0..n) into fns; the
 * handle, or NULL and err. */
void *worker_dlload (const char *soname, const char *const *names, void **fns, size_t n,
                     sq_err *err);

/* READY=1 once Redis answered; STATUS= with the busy slots and
 * WATCHDOG=1 at each heartbeat; STOPPING=1 at shutdown. */
void notify_ready (struct worker *w);
void notify_status (struct worker *w, int busy);
void notify_stopping (void);
/* STATUS= with why the worker cannot start, before it exits. */
void notify_failed (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
