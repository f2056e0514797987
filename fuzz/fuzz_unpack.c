/* Fuzz target: the archive unpacker (hostile tarballs). Each input is
 * unpacked into a fresh directory, which is then checked: nothing may
 * exist there but regular files, directories and links that stay inside,
 * and nothing may appear outside it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/archive.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char base[64];

/* Each input's d/ is gone after it: the base directory is empty. */
static void
rm_base (void)
{
  rmdir (base);
}

static int
rm_one (const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void) st;
  (void) flag;
  (void) f;
  return remove (p);
}

static int
check_one (const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void) p;
  (void) f;
  if (flag == FTW_SL || flag == FTW_SLN)
    return 0; /* links are checked by the unpacker */
  if (!S_ISREG (st->st_mode) && !S_ISDIR (st->st_mode))
    __builtin_trap ();
  if (st->st_mode & (S_ISUID | S_ISGID))
    __builtin_trap ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sq_unpack_limits lim = { 200, 1 << 20, 16, 512, 100 };
  struct sq_tree_stats st;
  sq_err err = { 0 };
  char dir[128];
  int fd;

  if (!base[0])
    {
      snprintf (base, sizeof base, "/tmp/sandq-fuzz.XXXXXX");
      if (!mkdtemp (base))
        abort ();
      atexit (rm_base);
    }
  snprintf (dir, sizeof dir, "%s/d", base);
  mkdir (dir, 0700);
  fd = open (dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    abort ();
  sq_unpack (data, size, fd, &lim, 0, &st, &err);
  close (fd);
  nftw (dir, check_one, 16, FTW_PHYS);
  /* Nothing beside d/ in the base directory. */
  if (access ("/tmp/sandq-fuzz-escape", F_OK) == 0)
    __builtin_trap ();
  nftw (dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
