/* The dependency-free common/: util (sizes, durations, numbers, names,
 * JSON strings, paths), status, joblimits, err and fdpass. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/fdpass.h"
#include "../../common/joblimits.h"
#include "../../common/status.h"
#include "../../common/util.h"

static void
sizes (void **state)
{
  uint64_t v;
  sq_err err = { 0 };
  (void) state;
  assert_int_equal (sq_parse_size ("256M", "--memory", &v, &err), 0);
  assert_true (v == 256ULL << 20);
  assert_int_equal (sq_parse_size ("1GiB", "--memory", &v, &err), 0);
  assert_true (v == 1ULL << 30);
  assert_int_equal (sq_parse_size ("4k", "--memory", &v, &err), 0);
  assert_true (v == 4096);
  assert_int_equal (sq_parse_size ("100", "--memory", &v, &err), 0);
  assert_true (v == 100);
  assert_int_equal (sq_parse_size ("12B", "--memory", &v, &err), 0);
  assert_true (v == 12);
}

static void
bad_sizes (void **state)
{
  uint64_t v;
  sq_err err = { 0 };
  (void) state;
  assert_int_equal (sq_parse_size ("", "--disk", &v, &err), -1);
  assert_int_equal (sq_parse_size ("-5M", "--disk", &v, &err), -1);
  assert_int_equal (sq_parse_size ("12Q", "--disk", &v, &err), -1);
  assert_non_null (strstr (err.msg, "--disk"));
  assert_non_null (strstr (err.msg, "'Q'"));
  assert_int_equal (sq_parse_size ("99999999999999T", "--disk", &v, &err), -1);
  assert_non_null (strstr (err.msg, "too large"));
  assert_int_equal (sq_parse_size ("abc", "--disk", &v, &err), -1);
}

static void
durations (void **state)
{
  uint64_t v;
  sq_err err = { 0 };
  (void) state;
  assert_int_equal (sq_parse_duration_ms ("1.5", "--wall", &v, &err), 0);
  assert_true (v == 1500);
  assert_int_equal (sq_parse_duration_ms ("250ms", "--wall", &v, &err), 0);
  assert_true (v == 250);
  assert_int_equal (sq_parse_duration_ms ("2m", "--wall", &v, &err), 0);
  assert_true (v == 120000);
  assert_int_equal (sq_parse_duration_ms ("0", "--wall", &v, &err), -1);
  assert_non_null (strstr (err.msg, "more than zero"));
  assert_int_equal (sq_parse_duration_ms ("nan", "--wall", &v, &err), -1);
  assert_int_equal (sq_parse_duration_ms ("1x", "--wall", &v, &err), -1);
  assert_non_null (strstr (err.msg, "use ms, s, m, h or d"));
  assert_int_equal (sq_parse_duration_ms ("6h", "timeout", &v, &err), 0);
  assert_true (v == 6 * 3600000ULL);
  assert_int_equal (sq_parse_duration_ms ("2d", "--keep", &v, &err), 0);
  assert_true (v == 2 * 86400000ULL);
  assert_int_equal (sq_parse_duration_ms ("90s", "--wall", &v, &err), 0);
  assert_true (v == 90000);
}

static void
uints (void **state)
{
  uint64_t v;
  sq_err err = { 0 };
  (void) state;
  assert_int_equal (sq_parse_uint ("64", "--pids", 1, 100, &v, &err), 0);
  assert_true (v == 64);
  assert_int_equal (sq_parse_uint ("0", "--pids", 1, 100, &v, &err), -1);
  assert_non_null (strstr (err.msg, "use 1 to 100"));
  assert_int_equal (sq_parse_uint ("5x", "--pids", 1, 100, &v, &err), -1);
}

static void
formatting (void **state)
{
  char b[32];
  (void) state;
  sq_format_size (256ULL << 20, b, sizeof b);
  assert_string_equal (b, "256 MiB");
  sq_format_size (1536ULL << 20, b, sizeof b);
  assert_string_equal (b, "1.5 GiB");
  sq_format_size (100, b, sizeof b);
  assert_string_equal (b, "100 bytes");
  sq_format_duration (1500, b, sizeof b);
  assert_string_equal (b, "1.5 s");
  sq_format_duration (250, b, sizeof b);
  assert_string_equal (b, "250 ms");
}

static void
names (void **state)
{
  (void) state;
  assert_true (sq_valid_name ("nightly-2026-11-26", 128));
  assert_true (sq_valid_name ("a.b_c:d", 128));
  assert_false (sq_valid_name ("", 128));
  assert_false (sq_valid_name ("-x", 128));
  assert_false (sq_valid_name (".hidden", 128));
  assert_false (sq_valid_name ("a b", 128));
  assert_false (sq_valid_name ("a/b", 128));
  assert_false (sq_valid_name ("abcdef", 5));
}

static void
statuses (void **state)
{
  (void) state;
  for (int s = 0; s < SQ_STATUS__COUNT; s++)
    assert_int_equal (sq_status_from_name (sq_status_name (s)), s);
  assert_int_equal (sq_status_from_name ("nope"), -1);
  assert_string_equal (sq_status_name (SQ_STATUS_MEMORY_LIMIT), "memory_limit");
  assert_true (sq_status_is_limit (SQ_STATUS_TIMEOUT));
  assert_false (sq_status_is_limit (SQ_STATUS_OK));
}

static void
utf8 (void **state)
{
  (void) state;
  struct
  {
    const char *in, *out;
  } cases[] = {
    { "plain ascii", "plain ascii" },
    { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
    { "bad \xff byte", "bad ? byte" },
    { "stray \x80\xbf", "stray ??" },
    { "overlong \xc0\xaf \xe0\x80\xaf", "overlong ?? ???" },
    { "surrogate \xed\xa0\x80", "surrogate ???" },
    { "past U+10FFFF \xf4\x90\x80\x80", "past U+10FFFF ????" },
    { "cut short \xe2\x82", "cut short ??" },
    { "", "" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char buf[64];
      snprintf (buf, sizeof buf, "%s", cases[i].in);
      sq_utf8_sanitize (buf);
      assert_string_equal (buf, cases[i].out);
    }
  /* Every message goes through it, a truncated one too. */
  sq_err err = { 0 };
  char name[600];
  memset (name, 'a', sizeof name);
  memcpy (name + SQ_ERR_MSG_MAX - 10, "\xe2\x82\xac\xe2\x82\xac", 6);
  name[sizeof name - 1] = '\0';
  sq_err_set (&err, 0, "entry '%s' \xff", name);
  /* "entry '" is 7 bytes: the first euro sign starts at 509 and is cut
   * after two bytes by the 512-byte buffer. */
  assert_int_equal (strlen (err.msg), SQ_ERR_MSG_MAX - 1);
  assert_string_equal (err.msg + SQ_ERR_MSG_MAX - 4, "a??");
  sq_err_wrap (&err, "wrapped \xc3");
  assert_memory_equal (err.msg, "wrapped ?: entry 'aaa", 21);
}

/* The sandbox CLI's JSON strings: every output must parse, whatever a job
 * named its files. */
static void
json_strings (void **state)
{
  (void) state;
  struct
  {
    const char *in, *out;
  } cases[] = {
    { "plain", "\"plain\"" },
    { "", "\"\"" },
    { "a \"quote\" and a \\ backslash", "\"a \\\"quote\\\" and a \\\\ backslash\"" },
    { "line\nbreak\ttab\rcr", "\"line\\nbreak\\ttab\\rcr\"" },
    { "bell\a esc\x1b del\x7f", "\"bell\\u0007 esc\\u001b del\x7f\"" },
    { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
    { "bad \xff and cut \xe2\x82", "\"bad ? and cut ??\"" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char *buf = NULL;
      size_t len = 0;
      FILE *f = open_memstream (&buf, &len);
      assert_non_null (f);
      sq_json_put_str (f, cases[i].in);
      fclose (f);
      assert_string_equal (buf, cases[i].out);
      free (buf);
    }
}

/* Inputs that do not fit name the limit that held, as the input's fault. */
static void
inputs_cap (void **state)
{
  (void) state;
  sq_err e = { 0 };

  /* The cap unpacking and copying apply: the lower of the two limits. */
  assert_int_equal (sq_inputs_max_bytes (200 << 20, 32 << 20), 32 << 20);
  assert_int_equal (sq_inputs_max_bytes (16 << 20, 64 << 20), 16 << 20);
  sq_err_set (&e, 0, "entry 'big': too much");
  e.code = EFBIG;
  assert_int_equal (sq_err_inputs_cap (&e, 200 << 20, 32 << 20), -1);
  assert_string_equal (e.msg,
                       "the inputs do not fit in the memory limit of 32 MiB (files "
                       "in /work count against it): entry 'big': too much");
  assert_int_equal (e.fault, SQ_FAULT_INPUT);
  sq_err_set (&e, ENOSPC, "write 'x'");
  sq_err_inputs_cap (&e, 16 << 20, 64 << 20);
  assert_string_equal (e.msg, "the inputs do not fit in the disk limit: write 'x': "
                              "No space left on device");
  assert_int_equal (e.fault, SQ_FAULT_INPUT);
  /* Refused memory is the memory limit's, whichever limit is lower. */
  sq_err_set (&e, ENOMEM, "write 'x'");
  sq_err_inputs_cap (&e, 16 << 20, 64 << 20);
  assert_non_null (strstr (e.msg, "memory limit of 64 MiB"));
  /* Anything else is left alone, and stays sandq's. */
  sq_err_set (&e, EIO, "read");
  sq_err_inputs_cap (&e, 16 << 20, 64 << 20);
  assert_string_equal (e.msg, "read: Input/output error");
  assert_int_equal (e.fault, SQ_FAULT_SANDQ);
  /* Stopped by the kernel: the sentence alone, no errno text. */
  sq_err_inputs_memory (&e, 32 << 20);
  assert_string_equal (e.msg,
                       "the inputs do not fit in the memory limit of 32 MiB (files "
                       "in /work count against it)");
  assert_int_equal (e.fault, SQ_FAULT_INPUT);
}

static void
rel_paths (void **state)
{
  (void) state;
  const char *good[] = { "a", "a/b.csv", "dir/", "x..y/.z", "caf\xc3\xa9.txt" };
  const char *bad[] = { "/etc/passwd", "..", "a/../b", "./a", "a/.", "a\nb", "a\x7f" };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    {
      assert_true (sq_rel_path_ok (good[i], 1024, 0));
      assert_true (sq_rel_path_ok (good[i], 1024, 1));
    }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      assert_false (sq_rel_path_ok (bad[i], 1024, 0));
      assert_false (sq_rel_path_ok (bad[i], 1024, 1));
    }
  /* Empty path and empty components: lenient yes, strict no. */
  assert_true (sq_rel_path_ok ("", 1024, 0));
  assert_false (sq_rel_path_ok ("", 1024, 1));
  assert_true (sq_rel_path_ok ("a//b", 1024, 0));
  assert_false (sq_rel_path_ok ("a//b", 1024, 1));
  assert_true (sq_rel_path_ok ("abcd", 4, 1));
  assert_false (sq_rel_path_ok ("abcde", 4, 1));
}

/* err: errno appended, context prefixed, the input's mark kept through a
 * wrap and turned into the verdict, messages made UTF-8. */
static void
errors (void **state)
{
  (void) state;
  sq_err e = { 0 };

  assert_int_equal (sq_err_set (&e, ENOENT, "open '%s'", "x"), -1);
  assert_string_equal (e.msg, "open 'x': No such file or directory");
  assert_int_equal (e.code, ENOENT);
  assert_string_equal (sq_fault_status (&e), "system_error");
  assert_int_equal (sq_err_input (&e), -1);
  assert_int_equal (sq_err_wrap (&e, "input"), -1);
  assert_string_equal (e.msg, "input: open 'x': No such file or directory");
  assert_string_equal (sq_fault_status (&e), "rejected");
  /* A new error is sandq's again. */
  sq_err_set (&e, 0, "bad \xff byte");
  assert_string_equal (e.msg, "bad ? byte");
  assert_string_equal (sq_fault_status (&e), "system_error");
  /* No err at all is fine. */
  assert_int_equal (sq_err_set (NULL, EIO, "nothing"), -1);
}

/* fdpass: a message and its descriptors arrive together; descriptors
 * past the receiver's max are closed, not leaked. */
static void
fd_passing (void **state)
{
  (void) state;
  int sv[2], p[2], q[2], got[2] = { -1, -1 }, n = 0;
  char buf[8] = { 0 };

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  assert_int_equal (pipe2 (q, O_CLOEXEC), 0);
  int fds[2] = { p[1], q[1] };
  assert_int_equal (fdpass_send (sv[0], "go", 2, fds, 2), 0);
  assert_int_equal (fdpass_recv (sv[1], buf, sizeof buf, got, 1, &n, 0), 2);
  assert_string_equal (buf, "go");
  assert_int_equal (n, 1);
  assert_true (fcntl (got[0], F_GETFD) & FD_CLOEXEC);
  /* The received descriptor is the pipe's write end. */
  assert_int_equal (write (got[0], "z", 1), 1);
  assert_int_equal (read (p[0], buf, 1), 1);
  assert_int_equal (buf[0], 'z');
  /* The second was closed on receipt: q's write end is ours alone. */
  close (q[1]);
  fcntl (q[0], F_SETFL, O_NONBLOCK);
  assert_int_equal (read (q[0], buf, 1), 0);
  /* EOF is 0. */
  close (sv[0]);
  assert_int_equal (fdpass_recv (sv[1], buf, sizeof buf, got + 1, 1, &n, 0), 0);
  close (got[0]);
  close (p[0]);
  close (p[1]);
  close (q[0]);
  close (sv[1]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (sizes),        cmocka_unit_test (bad_sizes),
    cmocka_unit_test (durations),    cmocka_unit_test (uints),
    cmocka_unit_test (formatting),   cmocka_unit_test (names),
    cmocka_unit_test (statuses),     cmocka_unit_test (utf8),
    cmocka_unit_test (json_strings), cmocka_unit_test (inputs_cap),
    cmocka_unit_test (rel_paths),    cmocka_unit_test (errors),
    cmocka_unit_test (fd_passing),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
