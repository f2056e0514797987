/* Replays saved fuzz inputs through a fuzz target, without libFuzzer, and
 * prints TAP: one test per file. Built with the normal (or sanitizer)
 * toolchain, so make check covers the corpus on every run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  int n = 0;

  for (int i = 1; i < argc; i++)
    {
      DIR *d = opendir (argv[i]);
      struct dirent *e;
      if (!d)
        {
          printf ("not ok %d - open corpus %s\n", ++n, argv[i]);
          continue;
        }
      while ((e = readdir (d)))
        {
          char path[4096];
          FILE *f;
          long len;
          unsigned char *buf;
          if (e->d_name[0] == '.')
            continue;
          snprintf (path, sizeof path, "%s/%s", argv[i], e->d_name);
          f = fopen (path, "rb");
          if (!f)
            continue;
          fseek (f, 0, SEEK_END);
          len = ftell (f);
          rewind (f);
          buf = malloc (len ? len : 1);
          if (fread (buf, 1, len, f) != (size_t) len)
            len = 0;
          fclose (f);
          LLVMFuzzerTestOneInput (buf, len);
          free (buf);
          printf ("ok %d - %s\n", ++n, path);
        }
      closedir (d);
    }
  printf ("1..%d\n", n);
  return 0;
}
