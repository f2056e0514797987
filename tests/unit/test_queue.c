/* Unit tests of the queue side of common/: Redis URLs (with Sentinel),
 * the job spec, the config file and where the Redis URL comes from, key
 * names and priorities, and archives (packing, unpacking, and the
 * hostile entries unpacking refuses). */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/acl.h"
#include "../../common/archive.h"
#include "../../common/config.h"
#include "../../common/proto.h"
#include "../../common/redis.h"
#include "../../common/seal.h"
#include "../../common/spec.h"

static void
urls (void **state)
{
  (void) state;
  struct sq_redis_addr a;
  sq_err err = { 0 };

  assert_int_equal (sq_redis_parse_url ("redis://db.example:6380/2", &a, &err), 0);
  assert_int_equal (a.kind, SQ_ADDR_TCP);
  assert_string_equal (a.host, "db.example");
  assert_int_equal (a.port, 6380);
  assert_int_equal (a.db, 2);

  assert_int_equal (sq_redis_parse_url ("redis://10.0.0.1", &a, &err), 0);
  assert_int_equal (a.port, 6379);
  assert_int_equal (a.db, 0);

  assert_int_equal (sq_redis_parse_url ("redis://sandq:p%40ss@h:1/0", &a, &err), 0);
  assert_string_equal (a.user, "sandq");
  assert_string_equal (a.password, "p@ss");

  assert_int_equal (sq_redis_parse_url ("unix:///run/redis.sock?db=3", &a, &err), 0);
  assert_int_equal (a.kind, SQ_ADDR_UNIX);
  assert_string_equal (a.path, "/run/redis.sock");
  assert_int_equal (a.db, 3);

  assert_int_equal (sq_redis_parse_url ("sentinel://s1:26379,s2/main/1", &a, &err), 0);
  assert_int_equal (a.kind, SQ_ADDR_SENTINEL);
  assert_int_equal (a.nsentinels, 2);
  assert_string_equal (a.sentinel_host[1], "s2");
  assert_int_equal (a.sentinel_port[1], 26379);
  assert_string_equal (a.master, "main");
  assert_int_equal (a.db, 1);

  /* IPv6, in brackets. */
  assert_int_equal (sq_redis_parse_url ("redis://[::1]:6380/1", &a, &err), 0);
  assert_string_equal (a.host, "::1");
  assert_int_equal (a.port, 6380);
  assert_int_equal (sq_redis_parse_url ("redis://u:p@[fd00::7]", &a, &err), 0);
  assert_string_equal (a.host, "fd00::7");
  assert_int_equal (a.port, 6379);
  assert_int_equal (sq_redis_parse_url ("sentinel://[::1]:26380,s2/main", &a, &err), 0);
  assert_string_equal (a.sentinel_host[0], "::1");
  assert_int_equal (a.sentinel_port[0], 26380);
}

static void
bad_urls (void **state)
{
  (void) state;
  static const char *const bad[] = {
    "",
    "http://x",
    "redis://h:notaport",
    "redis://h:70000",
    "redis://",
    "unix://relative.sock",
    "unix:///s.sock?timeout=1",
    "sentinel://s1:26379",
    "sentinel://s1:26379/",
    "redis://h/notadb",
    "redis://[::1",
    "redis://[::1]x",
    "redis://[::1]:",
    "redis://::1:6379",
    "redis://[]:6379",
  };
  struct sq_redis_addr a;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      sq_err err = { 0 };
      assert_int_equal (sq_redis_parse_url (bad[i], &a, &err), -1);
      /* One line in the house style: what; why; what to do. */
      assert_non_null (strstr (err.msg, "; "));
    }
  /* The password never appears in a message. */
  sq_err err = { 0 };
  assert_int_equal (sq_redis_parse_url ("redis://u:hunter2@h:bad", &a, &err), -1);
  assert_null (strstr (err.msg, "hunter2"));
  assert_non_null (strstr (err.msg, "redis://***@h:bad"));
}

static void
redacted (void **state)
{
  (void) state;
  struct sq_redis_addr a;
  sq_err err = { 0 };
  char buf[512];
  assert_int_equal (sq_redis_parse_url ("redis://u:hunter2@h:7/1", &a, &err), 0);
  sq_redis_url_redacted (&a, buf, sizeof buf);
  assert_null (strstr (buf, "hunter2"));
  assert_non_null (strstr (buf, "h:7"));
  assert_int_equal (sq_redis_parse_url ("redis://[::1]:7/1", &a, &err), 0);
  sq_redis_url_redacted (&a, buf, sizeof buf);
  assert_string_equal (buf, "redis://[::1]:7/1");
}

static int
parse (const char *json, struct sq_spec *s, sq_err *err)
{
  struct sq_spec_policy pol;
  sq_spec_policy_default (&pol);
  memset (s, 0, sizeof *s);
  return sq_spec_parse (json, strlen (json), &pol, s, err);
}

static void
specs (void **state)
{
  (void) state;
  struct sq_spec s;
  sq_err err = { 0 };

  assert_int_equal (
      parse ("{\"version\":1,\"command\":[\"python3\",\"a.py\"],"
             "\"env\":{\"T\":\"x\"},\"limits\":{\"memory_bytes\":268435456},"
             "\"inputs\":[{\"job\":\"j1\",\"path\":\"plots\"}],"
             "\"network\":[\"pypi\"]}",
             &s, &err),
      0);
  assert_int_equal (s.argc, 2);
  assert_string_equal (s.argv[1], "a.py");
  assert_int_equal (s.nenv, 1);
  assert_int_equal (s.limits[SQ_LIM_MEMORY], 268435456);
  assert_int_equal (s.ninputs, 1);
  assert_int_equal (s.nnetworks, 1);
  /* It serializes to what parses to the same. */
  char *json = sq_spec_to_json (&s);
  assert_non_null (json);
  struct sq_spec t;
  assert_int_equal (parse (json, &t, &err), 0);
  assert_string_equal (t.argv[0], "python3");
  assert_int_equal (t.limits[SQ_LIM_MEMORY], 268435456);
  free (json);
  sq_spec_free (&s);
  sq_spec_free (&t);
}

static void
bad_specs (void **state)
{
  (void) state;
  static const struct
  {
    const char *json, *names;
  } bad[] = {
    { "{\"version\":1,\"command\":[\"a\"]", "spec: invalid JSON" },
    { "[]", "spec: must be a JSON object" },
    { "{\"version\":2,\"command\":[\"a\"]}", "spec.version" },
    { "{\"version\":1,\"command\":[]}", "spec.command" },
    { "{\"version\":1,\"command\":[\"\"]}", "spec.command[0]" },
    { "{\"version\":1,\"command\":[\"a\"],\"env\":{\"PATH\":\"/x\"}}", "PATH" },
    { "{\"version\":1,\"command\":[\"a\"],\"limits\":{\"memory_bytes\":-1}}",
      "spec.limits.memory_bytes" },
    { "{\"version\":1,\"command\":[\"a\"],\"inputs\":[{\"job\":\"j\",\"path\":\"../"
      "x\"}]}",
      "without '..'" },
    { "{\"version\":1,\"command\":[\"a\"],\"network\":[\"No Caps\"]}", "network" },
    { "{\"version\":1,\"command\":[\"a\"],\"surprise\":1}", "surprise" },
    { "{\"version\":1,\"version\":1,\"command\":[\"a\"]}", "version" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      struct sq_spec s;
      sq_err err = { 0 };
      assert_int_equal (parse (bad[i].json, &s, &err), -1);
      if (!strstr (err.msg, bad[i].names))
        fail_msg ("spec %s: message '%s' does not name '%s'", bad[i].json, err.msg,
                  bad[i].names);
      /* A bad spec is the job's input, not sandq's fault. */
      assert_string_equal (sq_fault_status (&err), "rejected");
    }
}

static void
write_file (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static void
configs (void **state)
{
  (void) state;
  char path[] = "/tmp/sandq-test-conf.XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  close (fd);
  write_file (path, "# a comment\n\nconcurrency = 2\nredis_url = unix:///conf.sock\n");

  struct sq_config c = { 0 };
  sq_err err = { 0 };
  assert_int_equal (sq_config_load (&c, path, &err), 0);
  assert_string_equal (sq_config_get (&c, "concurrency"), "2");
  assert_null (sq_config_get (&c, "nothing"));

  /* Where Redis is: the flag, then the environment, then the config. */
  unsetenv ("SANDQ_REDIS_URL");
  assert_string_equal (sq_config_redis_url (&c, NULL), "unix:///conf.sock");
  setenv ("SANDQ_REDIS_URL", "unix:///env.sock", 1);
  assert_string_equal (sq_config_redis_url (&c, NULL), "unix:///env.sock");
  assert_string_equal (sq_config_redis_url (&c, "unix:///flag.sock"),
                       "unix:///flag.sock");
  unsetenv ("SANDQ_REDIS_URL");
  sq_config_free (&c);

  write_file (path, "concurrency = 2\nno equals sign here\n");
  memset (&c, 0, sizeof c);
  assert_int_equal (sq_config_load (&c, path, &err), -1);
  assert_non_null (strstr (err.msg, "line 2"));
  assert_non_null (strstr (err.msg, path));
  sq_config_free (&c);
  unlink (path);
}

static void
keys_and_priorities (void **state)
{
  (void) state;
  char k[SQ_KEY_MAX];
  sq_key (k, sizeof k, "etl", "job", "01abc");
  assert_string_equal (k, "sandq:{etl}:job:01abc");
  sq_key (k, sizeof k, "etl", "dead", NULL);
  assert_string_equal (k, "sandq:{etl}:dead");
  assert_int_equal (sq_priority_from_name ("high"), SQ_PRIO_HIGH);
  assert_int_equal (sq_priority_from_name ("low"), SQ_PRIO_LOW);
  assert_int_equal (sq_priority_from_name ("urgent"), -1);
  assert_string_equal (sq_priority_name (SQ_PRIO_NORMAL), "normal");
  assert_string_equal (sq_priority_name (7), "normal");
}

/* A fresh directory for an unpack; its fd. */
static int
scratch_dir (char *path)
{
  strcpy (path, "/tmp/sandq-unit.XXXXXX");
  assert_non_null (mkdtemp (path));
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  return fd;
}

static void
remove_dir (const char *path)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", path);
  assert_int_equal (system (cmd), 0);
}

/* A tar in memory with one entry: a file (size bytes of 'x'), a symlink
 * (to target), a hard link (to target) or another type. */
static void *
one_entry_tar (const char *name, mode_t type, const char *target, size_t size,
               size_t *len)
{
  size_t cap = 64 << 10;
  char *buf = malloc (cap), data[512];
  struct archive *a = archive_write_new ();
  struct archive_entry *e = archive_entry_new ();

  assert_true (size <= sizeof data);
  memset (data, 'x', sizeof data);
  archive_write_set_format_pax_restricted (a);
  assert_int_equal (archive_write_open_memory (a, buf, cap, len), ARCHIVE_OK);
  archive_entry_set_pathname (e, name);
  archive_entry_set_perm (e, 0644);
  if (type == 0) /* hard link */
    {
      archive_entry_set_filetype (e, AE_IFREG);
      archive_entry_set_hardlink (e, target);
    }
  else
    archive_entry_set_filetype (e, type);
  if (type == AE_IFLNK)
    archive_entry_set_symlink (e, target);
  if (type == AE_IFREG)
    archive_entry_set_size (e, (la_int64_t) size);
  assert_int_equal (archive_write_header (a, e), ARCHIVE_OK);
  if (type == AE_IFREG && size)
    assert_int_equal (archive_write_data (a, data, size), (la_ssize_t) size);
  archive_entry_free (e);
  archive_write_close (a);
  archive_write_free (a);
  return buf;
}

/* Packed and unpacked again, a file comes back whole; with select, only
 * what is under it, one level up. */
static void
archive_round_trip (void **state)
{
  (void) state;
  sq_err err = { 0 };
  struct sq_unpack_limits lim;
  struct sq_tree_stats st;
  char dir[64], got[16] = { 0 };
  void *tar;
  size_t len;
  struct sq_packer *pk = sq_packer_new (1 << 20, &err);

  assert_non_null (pk);
  assert_int_equal (sq_packer_add_mem (pk, "out/plots/a.txt", "hello", 5, &err), 0);
  assert_int_equal (sq_packer_add_mem (pk, "stdout", "log", 3, &err), 0);
  assert_int_equal (sq_packer_finish (pk, &tar, &len, &err), 0);
  sq_unpack_limits_default (&lim);
  int fd = scratch_dir (dir);
  assert_int_equal (sq_unpack (tar, len, fd, &lim, 0, &st, &err), 0);
  int f = openat (fd, "out/plots/a.txt", O_RDONLY);
  assert_true (f >= 0);
  assert_int_equal (read (f, got, sizeof got), 5);
  assert_string_equal (got, "hello");
  close (f);
  close (fd);
  remove_dir (dir);
  lim.select = "out";
  fd = scratch_dir (dir);
  assert_int_equal (sq_unpack (tar, len, fd, &lim, 0, &st, &err), 0);
  assert_int_equal (faccessat (fd, "plots/a.txt", F_OK, 0), 0);
  assert_int_not_equal (faccessat (fd, "stdout", F_OK, 0), 0);
  close (fd);
  remove_dir (dir);
  /* sandq logs reads one member. */
  size_t ml;
  char *m = sq_archive_read_member (tar, len, "stdout", 100, &ml, &err);
  assert_non_null (m);
  assert_int_equal (ml, 3);
  free (m);
  free (tar);
}

/* Each hostile entry is refused, by name, and nothing lands outside. */
static void
archive_hostile (void **state)
{
  (void) state;
  static const struct
  {
    const char *name;
    mode_t type;
    const char *target;
    unsigned flags;
    const char *says;
  } bad[] = {
    { "../evil", AE_IFREG, NULL, 0, "evil" },
    { "/etc/evil", AE_IFREG, NULL, 0, "evil" },
    { "a/../../evil", AE_IFREG, NULL, 0, "evil" },
    { "l", AE_IFLNK, "../../etc/passwd", 0, "leaves the job" },
    { "l", AE_IFLNK, "x", SQ_UNPACK_NO_LINKS, "links are not allowed" },
    { "h", 0, "/etc/passwd", 0, "hard link" },
    { "fifo", AE_IFIFO, NULL, 0, "FIFOs are not allowed" },
    { "dev", AE_IFCHR, NULL, 0, "devices are not allowed" },
  };
  struct sq_unpack_limits lim;
  struct sq_tree_stats st;
  char dir[64];

  sq_unpack_limits_default (&lim);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      sq_err err = { 0 };
      size_t len;
      void *tar = one_entry_tar (bad[i].name, bad[i].type, bad[i].target, 1, &len);
      int fd = scratch_dir (dir);
      assert_int_equal (sq_unpack (tar, len, fd, &lim, bad[i].flags, &st, &err), -1);
      if (!strstr (err.msg, bad[i].says))
        fail_msg ("entry %zu (%s): '%s' does not say '%s'", i, bad[i].name, err.msg,
                  bad[i].says);
      assert_int_not_equal (access ("/tmp/evil", F_OK), 0);
      close (fd);
      remove_dir (dir);
      free (tar);
    }
  /* Caps: bytes (EFBIG, a size cap), entries, and no archive at all. */
  sq_err err = { 0 };
  size_t len;
  void *tar = one_entry_tar ("big", AE_IFREG, NULL, 300, &len);
  int fd = scratch_dir (dir);
  lim.max_bytes = 100;
  assert_int_equal (sq_unpack (tar, len, fd, &lim, 0, &st, &err), -1);
  assert_int_equal (err.code, EFBIG);
  assert_non_null (strstr (err.msg, "more than the limit of 100 bytes"));
  sq_unpack_limits_default (&lim);
  lim.max_entries = 0;
  assert_int_equal (sq_unpack (tar, len, fd, &lim, 0, &st, &err), -1);
  assert_non_null (strstr (err.msg, "more than 0 entries"));
  sq_unpack_limits_default (&lim);
  assert_int_equal (sq_unpack ("not a tar at all", 16, fd, &lim, 0, &st, &err), -1);
  assert_int_equal (sq_unpack (NULL, 0, fd, &lim, 0, &st, &err), 0);
  close (fd);
  remove_dir (dir);
  free (tar);
}

/* The roles' ACL rules: each reaches its keys and nothing else. */
static void
acl_rules (void **state)
{
  const char *qs[] = { "alpha", "alpha:night" };
  char buf[8192], tiny[64];
  (void) state;

  assert_true (sq_acl_rule (SQ_ROLE_SUBMITTER, qs, 2, buf, sizeof buf) > 0);
  assert_non_null (strstr (buf, "resetkeys ~sandq:{alpha}:job:* "));
  assert_non_null (strstr (buf, " ~sandq:{alpha:night}:result:* "));
  assert_null (strstr (buf, "paused"));      /* the operator's to set */
  assert_null (strstr (buf, "sandq:*"));     /* nothing global */
  assert_null (strstr (buf, "{*}"));         /* no wildcard queue */
  assert_null (strstr (buf, "script|load")); /* no Lua of its own */
  assert_null (strstr (buf, "+eval "));
  assert_non_null (strstr (buf, " -@all +ping"));

  assert_true (sq_acl_rule (SQ_ROLE_OPERATOR, qs, 2, buf, sizeof buf) > 0);
  assert_non_null (strstr (buf, " ~sandq:workers ~sandq:worker:*"));
  assert_non_null (strstr (buf, " ~sandq:{alpha}:paused"));
  assert_non_null (strstr (buf, " %W~sandq:{alpha:night}:result:*"));
  assert_null (strstr (buf, " ~sandq:{alpha}:result"));
  assert_null (strstr (buf, " ~sandq:{alpha}:input"));
  assert_null (strstr (buf, " ~sandq:{alpha}:live"));

  assert_true (sq_acl_rule (SQ_ROLE_WORKER, NULL, 0, buf, sizeof buf) > 0);
  assert_non_null (strstr (buf, "resetkeys ~sandq:* resetchannels -@all"));
  assert_null (strstr (buf, "@admin"));

  assert_int_equal (sq_acl_rule (SQ_ROLE_OPERATOR, qs, 2, tiny, sizeof tiny), -1);
}

/* Sealed results: the key opens them; another key, a changed byte or
 * plain bytes do not. */
static void
seal_round_trip (void **state)
{
  unsigned char pk[32], sk[32], pk2[32], sk2[32], back[32];
  char hex[65];
  const char msg[] = "a result archive";
  size_t blen = 0, plen = 0;
  sq_err err = { 0 };
  (void) state;

  assert_int_equal (sq_seal_keygen (pk, sk, &err), 0);
  assert_int_equal (sq_seal_keygen (pk2, sk2, &err), 0);
  sq_seal_key_hex (pk, hex);
  assert_int_equal (strlen (hex), 64);
  assert_int_equal (sq_seal_parse_key (hex, back, "k", &err), 0);
  assert_memory_equal (back, pk, 32);
  assert_int_equal (sq_seal_parse_key ("abc", back, "k", &err), -1);
  assert_non_null (strstr (err.msg, "k: must be 64 hex digits"));
  hex[10] = 'g';
  assert_int_equal (sq_seal_parse_key (hex, back, "k", &err), -1);

  unsigned char *box = sq_seal (msg, sizeof msg, pk, &blen, &err);
  assert_non_null (box);
  assert_true (sq_is_sealed (box, blen));
  assert_null (memmem (box, blen, "archive", 7));
  char *plain = sq_unseal (box, blen, sk, &plen, &err);
  assert_non_null (plain);
  assert_int_equal (plen, sizeof msg);
  assert_memory_equal (plain, msg, sizeof msg);
  free (plain);
  assert_null (sq_unseal (box, blen, sk2, &plen, &err));
  assert_non_null (strstr (err.msg, "does not open it"));
  box[blen - 1] ^= 1;
  assert_null (sq_unseal (box, blen, sk, &plen, &err));
  assert_null (sq_unseal (msg, sizeof msg, sk, &plen, &err));
  assert_false (sq_is_sealed (msg, sizeof msg));
  free (box);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (urls),
    cmocka_unit_test (bad_urls),
    cmocka_unit_test (redacted),
    cmocka_unit_test (specs),
    cmocka_unit_test (bad_specs),
    cmocka_unit_test (configs),
    cmocka_unit_test (keys_and_priorities),
    cmocka_unit_test (archive_round_trip),
    cmocka_unit_test (archive_hostile),
    cmocka_unit_test (acl_rules),
    cmocka_unit_test (seal_round_trip),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
