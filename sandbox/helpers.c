#define _GNU_SOURCE
#include "helpers.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "paths.h" /* SANDQ_LIBEXECDIR, made by the Makefile */

void
sbx_helper_path (const char *name, char *out, size_t len)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        {
          snprintf (out, len, "%.*s/%s", (int) (slash - self), self, name);
          if (access (out, X_OK) == 0)
            return;
        }
    }
  snprintf (out, len, "%s/%s", SANDQ_LIBEXECDIR, name);
}
