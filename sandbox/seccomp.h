/* The sandbox's seccomp policy, compiled at build time, loaded many times.
 *
 * The policy is a deny list on top of allow-by-default: the calls that
 * attack the kernel or leave the sandbox fail with EPERM (ENOSYS for clone3
 * and foreign architectures, so that libc falls back or reports "not
 * implemented"). Nothing is killed, so ordinary programs degrade gracefully.
 *
 * libseccomp compiles the policy to classic BPF once, at build time
 * (sandbox/gen_seccomp.c writes it out as a C array), so a run neither pays
 * for the compilation nor needs libseccomp. The child only calls seccomp(2)
 * on the ready program: no allocation, no library state between clone()
 * and execve().
 */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include <linux/filter.h>

#include "../common/err.h"

struct sbx_seccomp
{
  struct sock_fprog prog;
};

enum sbx_seccomp_policy
{
  /* A sandbox's init and program. */
  SBX_POLICY_SANDBOX,
  /* A helper that handles a job's files outside the sandbox (the worker's
   * sandq-archiver and its per-job processes): the same, but chroot is
   * allowed, and setns into a network namespace only. */
  SBX_POLICY_HELPER,
};

/* Compiles a policy with libseccomp (build time; tests). The caller frees
 * it with sbx_seccomp_free(). */
int sbx_seccomp_compile (struct sbx_seccomp *sc, enum sbx_seccomp_policy policy,
                         sq_err *err);
void sbx_seccomp_free (struct sbx_seccomp *sc);

/* Points sc at a program compiled at build time. Nothing to free. */
void sbx_seccomp_builtin (struct sbx_seccomp *sc, enum sbx_seccomp_policy policy);

/* Installs the program on the calling thread. Async-signal-safe. */
int sbx_seccomp_load (const struct sbx_seccomp *sc);

/* The names of the denied calls, NULL-terminated, for docs and tests. */
extern const char *const sbx_seccomp_denied[];

#endif
