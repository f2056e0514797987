/* The sandbox's seccomp policy, compiled once and loaded many times.
 *
 * The policy is a deny list on top of allow-by-default: the calls that
 * attack the kernel or leave the sandbox fail with EPERM (ENOSYS for clone3
 * and foreign architectures, so that libc falls back or reports "not
 * implemented"). Nothing is killed, so ordinary programs degrade gracefully.
 *
 * libseccomp compiles the policy to classic BPF in the supervisor. The child
 * only calls seccomp(2) on the ready program: no allocation, no library
 * state between clone() and execve().
 */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include <linux/filter.h>

#include "../common/err.h"

struct sbx_seccomp
{
  struct sock_fprog prog;
};

int sbx_seccomp_build (struct sbx_seccomp *sc, sq_err *err);
void sbx_seccomp_free (struct sbx_seccomp *sc);

/* Installs the program on the calling thread. Async-signal-safe. */
int sbx_seccomp_load (const struct sbx_seccomp *sc);

/* The names of the denied calls, NULL-terminated, for docs and tests. */
extern const char *const sbx_seccomp_denied[];

#endif
