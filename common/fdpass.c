#define _GNU_SOURCE
#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
fdpass_send (int sock, const void *buf, size_t len, const int *fds, int nfds)
{
  char cbuf[CMSG_SPACE (FDPASS_MAX * sizeof (int))];
  struct iovec iov = { (void *) buf, len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (nfds < 0 || nfds > FDPASS_MAX)
    {
      errno = EINVAL;
      return -1;
    }
  if (nfds > 0)
    {
      memset (cbuf, 0, sizeof cbuf);
      mh.msg_control = cbuf;
      mh.msg_controllen = CMSG_SPACE (nfds * sizeof (int));
      struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN (nfds * sizeof (int));
      memcpy (CMSG_DATA (cm), fds, nfds * sizeof (int));
    }
  return sendmsg (sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

ssize_t
fdpass_recv (int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags)
{
  char cbuf[CMSG_SPACE (FDPASS_MAX * sizeof (int))];
  struct iovec iov = { buf, len };
  struct msghdr mh = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
  };
  ssize_t n = recvmsg (sock, &mh, flags | MSG_CMSG_CLOEXEC);

  *nfds = 0;
  for (struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR (&mh) : NULL; cm;
       cm = CMSG_NXTHDR (&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
        {
          int fd;
          memcpy (&fd, CMSG_DATA (cm) + i * sizeof (int), sizeof fd);
          if (*nfds < max)
            fds[(*nfds)++] = fd;
          else
            close (fd);
        }
  return n;
}
