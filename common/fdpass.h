/* One message and its descriptors over a unix socket (SCM_RIGHTS): what
 * the worker and sandq-archiver say to each other (SOCK_SEQPACKET), and
 * the supervisor's 'j' to a sandbox's init (init_proto.h). */
#ifndef SANDQ_FDPASS_H
#define SANDQ_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 5 /* an unpack's: work dir, join, leave, input, chained inputs */

/* Sends buf with nfds (at most FDPASS_MAX) descriptors, MSG_NOSIGNAL. */
int fdpass_send (int sock, const void *buf, size_t len, const int *fds, int nfds);

/* Receives one message and up to max descriptors (close-on-exec) into
 * fds; descriptors beyond max are closed. Returns the message's length,
 * 0 at EOF, -1 with errno. flags go to recvmsg. */
ssize_t fdpass_recv (int sock, void *buf, size_t len, int *fds, int max, int *nfds,
                     int flags);

#endif
