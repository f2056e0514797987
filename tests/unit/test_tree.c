/* common/tree: walking and copying hostile trees. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/tree.h"

static char src[64], dst[64];
static int sfd, dfd;

static int
setup (void **state)
{
  (void) state;
  snprintf (src, sizeof src, "/tmp/sq-tree-src.XXXXXX");
  snprintf (dst, sizeof dst, "/tmp/sq-tree-dst.XXXXXX");
  if (!mkdtemp (src) || !mkdtemp (dst))
    return -1;
  sfd = open (src, O_RDONLY | O_DIRECTORY);
  dfd = open (dst, O_RDONLY | O_DIRECTORY);
  return sfd < 0 || dfd < 0;
}

static int
teardown (void **state)
{
  char cmd[200];
  (void) state;
  close (sfd);
  close (dfd);
  snprintf (cmd, sizeof cmd, "rm -rf %s %s", src, dst);
  return system (cmd) != 0;
}

static void
put (const char *path, const char *content)
{
  int fd = openat (sfd, path, O_WRONLY | O_CREAT | O_TRUNC, 04755);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, content, strlen (content)), (ssize_t) strlen (content));
  fchmod (fd, 04755);
  close (fd);
}

static int
count_only (const struct sq_tree_entry *e, void *ctx, sq_err *err)
{
  (void) e;
  (void) ctx;
  (void) err;
  return 0;
}

static const struct sq_tree_limits roomy = { 1000, 1 << 20, 16, 4095 };

static void
copies_files_and_dirs_strips_setuid (void **state)
{
  struct sq_tree_stats st;
  sq_err err = { 0 };
  struct stat sb;
  (void) state;
  assert_int_equal (mkdirat (sfd, "d", 0755), 0);
  put ("d/f", "hello");
  put ("top", "x");
  assert_int_equal (sq_tree_copy (sfd, dfd, &roomy, 0, 0, 0, &st, &err), 0);
  assert_int_equal (fstatat (dfd, "d/f", &sb, 0), 0);
  assert_int_equal (sb.st_size, 5);
  assert_int_equal (sb.st_mode & 07777, 0755); /* setuid bit gone */
  assert_true (st.entries == 3);
}

static void
never_follows_symlinks (void **state)
{
  struct sq_tree_stats st;
  sq_err err = { 0 };
  struct stat sb;
  (void) state;
  assert_int_equal (symlinkat ("/etc", sfd, "etc-link"), 0);
  assert_int_equal (symlinkat ("/etc/passwd", sfd, "pw-link"), 0);
  assert_int_equal (mkfifoat (sfd, "fifo", 0644), 0);
  put ("real", "r");
  assert_int_equal (sq_tree_copy (sfd, dfd, &roomy, 0, 0, 0, &st, &err), 0);
  assert_int_equal (fstatat (dfd, "etc-link", &sb, AT_SYMLINK_NOFOLLOW), -1);
  assert_int_equal (fstatat (dfd, "pw-link", &sb, AT_SYMLINK_NOFOLLOW), -1);
  assert_int_equal (fstatat (dfd, "fifo", &sb, AT_SYMLINK_NOFOLLOW), -1);
  assert_int_equal (fstatat (dfd, "real", &sb, 0), 0);
  assert_true (st.skipped == 3);
  /* With SQ_COPY_SYMLINKS a link is recreated as a link, not read. */
  int d2 = openat (dfd, ".", O_RDONLY | O_DIRECTORY);
  assert_int_equal (mkdirat (dfd, "again", 0755), 0);
  int again = openat (dfd, "again", O_RDONLY | O_DIRECTORY);
  int rc = sq_tree_copy (sfd, again, &roomy, SQ_COPY_SYMLINKS, 0, 0, &st, &err);
  assert_int_equal (rc, 0);
  assert_int_equal (fstatat (again, "pw-link", &sb, AT_SYMLINK_NOFOLLOW), 0);
  assert_true (S_ISLNK (sb.st_mode));
  close (again);
  close (d2);
}

static void
caps_entries_bytes_depth (void **state)
{
  struct sq_tree_stats st;
  sq_err err = { 0 };
  struct sq_tree_limits few = { 3, 1 << 20, 16, 4095 };
  struct sq_tree_limits small = { 1000, 10, 16, 4095 };
  struct sq_tree_limits shallow = { 1000, 1 << 20, 2, 4095 };
  (void) state;
  put ("a", "0123456789abcdef");
  put ("b", "x");
  put ("c", "y");
  put ("d", "z");
  assert_int_equal (sq_tree_walk (sfd, &few, count_only, NULL, &st, &err), -1);
  assert_non_null (strstr (err.msg, "more than 3 entries"));
  assert_int_equal (sq_tree_copy (sfd, dfd, &small, 0, 0, 0, &st, &err), -1);
  assert_non_null (strstr (err.msg, "more than 10 bytes"));
  assert_int_equal (mkdirat (sfd, "x", 0755), 0);
  assert_int_equal (mkdirat (sfd, "x/y", 0755), 0);
  assert_int_equal (mkdirat (sfd, "x/y/z", 0755), 0);
  int e2 = openat (dfd, ".", O_RDONLY | O_DIRECTORY);
  assert_int_equal (mkdirat (dfd, "deep", 0755), 0);
  int deep = openat (dfd, "deep", O_RDONLY | O_DIRECTORY);
  assert_int_equal (sq_tree_copy (sfd, deep, &shallow, 0, 0, 0, &st, &err), -1);
  assert_non_null (strstr (err.msg, "deeper than the limit of 2"));
  close (deep);
  close (e2);
}

/* A job's tree: what lies too deep or too long is skipped and counted,
 * with what is beneath it; everything else is walked. */
static void
skips_too_deep (void **state)
{
  struct sq_tree_stats st;
  sq_err err = { 0 };
  struct sq_tree_limits lim = { 1000, 1 << 20, 2, 12, 1 };
  (void) state;
  put ("a", "1");
  assert_int_equal (mkdirat (sfd, "x", 0755), 0);
  put ("x/b", "2");
  assert_int_equal (mkdirat (sfd, "x/y", 0755), 0);
  put ("x/y/c", "3");         /* depth 3 */
  put ("x/0123456789", "4");  /* 12 bytes: fits */
  put ("x/01234567890", "5"); /* 13 bytes: too long */
  assert_int_equal (sq_tree_walk (sfd, &lim, count_only, NULL, &st, &err), 0);
  /* a, x, x/b, x/y, x/0123456789 walked; x/y/c and x/01234567890 not */
  assert_int_equal (st.entries, 7);
  assert_int_equal (st.skipped, 2);
  assert_int_equal (st.bytes, 3);
  lim.skip_too_deep = 0;
  assert_int_equal (sq_tree_walk (sfd, &lim, count_only, NULL, &st, &err), -1);
}

static void
bad_names (void **state)
{
  struct sq_tree_stats st;
  sq_err err = { 0 };
  (void) state;
  put ("bad\x01name", "x");
  assert_int_equal (sq_tree_copy (sfd, dfd, &roomy, 0, 0, 0, &st, &err), -1);
  assert_non_null (strstr (err.msg, "control characters"));
  assert_int_equal (mkdirat (dfd, "s", 0755), 0);
  int s = openat (dfd, "s", O_RDONLY | O_DIRECTORY);
  int rc = sq_tree_copy (sfd, s, &roomy, SQ_COPY_SKIP_BAD_NAMES, 0, 0, &st, &err);
  assert_int_equal (rc, 0);
  assert_int_equal (st.skipped, 1);
  close (s);
  assert_false (sq_tree_name_ok (".."));
  assert_false (sq_tree_name_ok (""));
  assert_true (sq_tree_name_ok ("résumé.txt"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (copies_files_and_dirs_strips_setuid, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (never_follows_symlinks, setup, teardown),
    cmocka_unit_test_setup_teardown (caps_entries_bytes_depth, setup, teardown),
    cmocka_unit_test_setup_teardown (bad_names, setup, teardown),
    cmocka_unit_test_setup_teardown (skips_too_deep, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
