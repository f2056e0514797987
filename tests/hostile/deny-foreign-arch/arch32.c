/* Calls getpid through the i386 entry point (int 0x80) from a 64-bit
 * program. The seccomp filter must answer ENOSYS instead of letting the
 * compat syscall table be reached. Prints the result; exit 0 if denied. */
#include <stdio.h>

int
main (void)
{
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory"); /* getpid */
  printf ("int 0x80 getpid returned %ld\n", ret);
  return ret == -38 ? 0 : 3; /* -ENOSYS */
}
