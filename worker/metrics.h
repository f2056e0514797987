/* The worker's face to its operator: Prometheus metrics over HTTP
 * (libmicrohttpd) and systemd notifications (libsystemd's sd_notify). */
#ifndef SQ_METRICS_H
#define SQ_METRICS_H

#include "../common/err.h"

struct worker;
struct metrics;

#include <netinet/in.h>

/* Parses "host:port" (IPv4; ":port" means 127.0.0.1). */
int metrics_parse_addr (const char *addr, struct sockaddr_in *sin, sq_err *err);

/* Serves GET /metrics on addr ("host:port" or ":port"). */
struct metrics *metrics_start (struct worker *w, const char *addr, sq_err *err);
void metrics_stop (struct metrics *m);

/* sd_notify: READY=1 once Redis answered; STATUS= with the busy slots and
 * WATCHDOG=1 at each heartbeat; STOPPING=1 at shutdown. No-ops outside
 * systemd. */
void metrics_ready (struct worker *w);
void metrics_status (struct worker *w, int busy);
void metrics_stopping (void);
/* STATUS= with why the worker cannot start, before it exits. */
void metrics_failed (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
