/* The worker's Prometheus metrics over HTTP (libmicrohttpd); its systemd
 * notifications are in notify.h. */
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

#endif
