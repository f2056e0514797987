/* sandbox/cgroup: reading /proc/self/cgroup on each kind of host. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../sandbox/cgroup.h"

static const char *
find (const char *text, const char *ctrl)
{
  static char out[512];
  char buf[4096];

  snprintf (buf, sizeof buf, "%s", text);
  if (cg_parse_proc_cgroup (buf, ctrl, out, sizeof out) < 0)
    return NULL;
  return out;
}

/* A pure v2 host under systemd: one line. */
static void
unified (void **state)
{
  (void) state;
  const char *t = "0::/system.slice/sandq-worker.service\n";
  assert_string_equal (find (t, NULL), "/system.slice/sandq-worker.service");
  assert_null (find (t, "memory"));
  assert_string_equal (find ("0::/\n", NULL), "/");
}

/* A hybrid host: v1 controllers, and the v2 line with no controllers. */
static void
hybrid (void **state)
{
  (void) state;
  const char *t = "12:pids:/user/a\n"
                  "11:cpu,cpuacct:/user/b\n"
                  "4:memory:/user/c\n"
                  "1:name=systemd:/init.scope\n"
                  "0::/unified-path\n";
  assert_string_equal (find (t, "pids"), "/user/a");
  assert_string_equal (find (t, "cpu"), "/user/b");
  assert_string_equal (find (t, "cpuacct"), "/user/b");
  assert_string_equal (find (t, "memory"), "/user/c");
  assert_string_equal (find (t, NULL), "/unified-path");
  assert_null (find (t, "blkio"));
}

/* Lines that are not the v2 one: an id other than 0, a named hierarchy,
 * a path with colons in it. */
static void
not_v2 (void **state)
{
  (void) state;
  assert_null (find ("10::/x\n", NULL));
  assert_null (find ("0:name=systemd:/x\n", NULL));
  assert_null (find ("garbage\n", NULL));
  assert_string_equal (find ("0::/a:b:c\n", NULL), "/a:b:c");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (unified),
    cmocka_unit_test (hybrid),
    cmocka_unit_test (not_v2),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
