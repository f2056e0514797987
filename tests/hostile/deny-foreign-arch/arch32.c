/* Calls getpid through another architecture's way into the kernel, from a
 * 64-bit program, and prints what came back:
 *
 *   arch32 x32    the syscall instruction with the x32 bit (1 << 30) set
 *   arch32 ia32   the i386 entry point, int 0x80
 *
 * The seccomp filter must answer ENOSYS instead of letting the compat
 * syscall table be reached: exit 0 if the call was refused with ENOSYS,
 * 3 if it ran. A kernel that refuses int 0x80 itself (ia32_emulation=0,
 * or a hypervisor that does) kills the process with SIGSEGV before any
 * filter runs. */
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
  long ret;

  if (argc == 2 && strcmp (argv[1], "x32") == 0)
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(0x40000000L | 39L) /* x32 getpid */
                     : "rcx", "r11", "memory");
  else if (argc == 2 && strcmp (argv[1], "ia32") == 0)
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory"); /* i386 getpid */
  else
    {
      fprintf (stderr, "usage: arch32 x32|ia32\n");
      return 2;
    }
  printf ("%s getpid returned %ld\n", argv[1], ret);
  return ret == -38 ? 0 : 3; /* -ENOSYS */
}
