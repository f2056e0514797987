/* Inside sandq-archiver: between its main and unpacking half
 * (archiver.c) and its packing half (archiver_pack.c). */
#ifndef SQ_ARCHIVER_JOB_H
#define SQ_ARCHIVER_JOB_H

#include <stddef.h>
#include <sys/types.h>

#include "archiver_proto.h"

#define CTL_FD 3
#define MAX_FDS 5 /* the most a request carries */

/* A request and its fds (at most MAX_FDS) from sock; a reply, with one fd
 * or none (-1). */
ssize_t arc_recv_fds (int sock, void *buf, size_t len, int *fds, int *nfds);
int arc_send_reply (int sock, const struct arc_reply *r, int fd);

/* Answers status and msg, and ends the job process. */
void arc_fail (int sock, char status, const char *msg) __attribute__ ((noreturn));

/* The whole regular file fd, mapped read-only; NULL (and *len 0) when it
 * is empty or not a file, NULL with *len set when the map failed. */
void *arc_map_whole (int fd, size_t *len);

/* ARC_PACK, then ARC_FINISH after a truncation, for the unpack request
 * rq; never returns. */
void arc_serve_pack (int sock, struct arc_request *rq) __attribute__ ((noreturn));

#endif
