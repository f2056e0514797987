/* The runtime half of the seccomp policy: the program compiled at build
 * time, and loading it. Needs no libseccomp. */
#define _GNU_SOURCE
#include "seccomp.h"

#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "seccomp_filter.h" /* generated: sbx_filter[], sbx_helper_filter[] */

void
sbx_seccomp_builtin (struct sbx_seccomp *sc, enum sbx_seccomp_policy policy)
{
  if (policy == SBX_POLICY_HELPER)
    {
      sc->prog.len = sizeof sbx_helper_filter / sizeof sbx_helper_filter[0];
      sc->prog.filter = (struct sock_filter *) sbx_helper_filter;
      return;
    }
  sc->prog.len = sizeof sbx_filter / sizeof sbx_filter[0];
  sc->prog.filter = (struct sock_filter *) sbx_filter;
}

int
sbx_seccomp_load (const struct sbx_seccomp *sc)
{
  return (int) syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sc->prog);
}
