/* The slot's unpacker process (see unpacker.c). */
#ifndef SANDQ_UNPACKER_H
#define SANDQ_UNPACKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

struct unpacker
{
  int pidfd;      /* the one waiting for a job, or -1 */
  int sock;       /* our end of its socket */
  int done_pidfd; /* the last one, to reap */
};

void unpacker_init (struct unpacker *u);

/* Forks the next unpacker unless one is waiting, and reaps the last. It
 * joins netns_fd (a namespace with no network) and a new IPC namespace
 * while it waits. */
int unpacker_prepare (struct unpacker *u, int netns_fd, sq_err *err);

/* Unpacks buf into work_fd as uid, with the disk caps. An input the
 * unpacker refuses fails with err->code EINVAL and a message naming the
 * entry; anything else with EIO. */
int unpacker_run (struct unpacker *u, int netns_fd, int work_fd, uid_t uid,
                  uint64_t disk_bytes, uint64_t disk_inodes, const void *buf, size_t len,
                  sq_err *err);

/* Stops the waiting unpacker and reaps both. */
void unpacker_fini (struct unpacker *u);

#endif
