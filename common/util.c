#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "cleanup.h"

int
sq_parse_size (const char *s, const char *name, uint64_t *out, sq_err *err)
{
  char *end;
  unsigned long long v;
  uint64_t mul = 1;

  if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
    return sq_err_set (err, 0,
                       "%s '%s': not a size; write one such as 256M, 1.5G or 4096", name,
                       s ? s : "");
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return sq_err_set (
        err, 0, "%s '%s': not a size; write one such as 256M, 1.5G or 4096", name, s);
  switch (*end)
    {
    case 'k':
    case 'K':
      mul = 1ULL << 10;
      end++;
      break;
    case 'm':
    case 'M':
      mul = 1ULL << 20;
      end++;
      break;
    case 'g':
    case 'G':
      mul = 1ULL << 30;
      end++;
      break;
    case 't':
    case 'T':
      mul = 1ULL << 40;
      end++;
      break;
    default:
      break;
    }
  if (mul > 1 && (strcmp (end, "iB") == 0 || strcmp (end, "B") == 0))
    end += strlen (end);
  else if (mul == 1 && strcmp (end, "B") == 0)
    end++;
  if (*end)
    return sq_err_set (err, 0, "%s '%s': unknown suffix '%s'; use K, M, G or T", name, s,
                       end);
  if (v > UINT64_MAX / mul)
    return sq_err_set (err, 0, "%s '%s': too large", name, s);
  *out = (uint64_t) v * mul;
  return 0;
}

int
sq_parse_duration_ms (const char *s, const char *name, uint64_t *out, sq_err *err)
{
  char *end;
  double v, mul = 1000.0;

  if (!s || !*s || *s == ' ')
    return sq_err_set (err, 0,
                       "%s '%s': not a duration; write one such as 90s, 1.5, 10m or 6h",
                       name, s ? s : "");
  errno = 0;
  v = strtod (s, &end);
  if (errno || end == s || isnan (v) || isinf (v))
    return sq_err_set (err, 0,
                       "%s '%s': not a duration; write one such as 90s, 1.5, 10m or 6h",
                       name, s);
  if (strcmp (end, "ms") == 0)
    mul = 1.0;
  else if (strcmp (end, "m") == 0 || strcmp (end, "min") == 0)
    mul = 60000.0;
  else if (strcmp (end, "h") == 0)
    mul = 3600000.0;
  else if (strcmp (end, "d") == 0)
    mul = 86400000.0;
  else if (*end && strcmp (end, "s") != 0)
    return sq_err_set (err, 0, "%s '%s': unknown suffix '%s'; use ms, s, m, h or d", name,
                       s, end);
  if (v <= 0)
    return sq_err_set (err, 0, "%s '%s': must be more than zero", name, s);
  v *= mul;
  if (v > 1e15)
    return sq_err_set (err, 0, "%s '%s': too large", name, s);
  *out = (uint64_t) ceil (v);
  return 0;
}

int
sq_parse_uint (const char *s, const char *name, uint64_t min, uint64_t max, uint64_t *out,
               sq_err *err)
{
  char *end;
  unsigned long long v;

  if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
    return sq_err_set (err, 0, "%s '%s': not a whole number", name, s ? s : "");
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s || *end)
    return sq_err_set (err, 0, "%s '%s': not a whole number", name, s);
  if (v < min || v > max)
    return sq_err_set (err, 0, "%s '%s': out of range; use %" PRIu64 " to %" PRIu64, name,
                       s, min, max);
  *out = v;
  return 0;
}

void
sq_format_size (uint64_t bytes, char *buf, size_t len)
{
  static const char *units[] = { "KiB", "MiB", "GiB", "TiB" };
  double v = (double) bytes;
  int u = -1;

  if (bytes < 1024)
    {
      snprintf (buf, len, "%" PRIu64 " bytes", bytes);
      return;
    }
  while (v >= 1024 && u < 3)
    {
      v /= 1024;
      u++;
    }
  if (v == floor (v))
    snprintf (buf, len, "%.0f %s", v, units[u]);
  else
    snprintf (buf, len, "%.1f %s", v, units[u]);
}

void
sq_format_duration (uint64_t ms, char *buf, size_t len)
{
  if (ms < 1000)
    snprintf (buf, len, "%" PRIu64 " ms", ms);
  else if (ms < 120000)
    {
      if (ms % 1000 == 0)
        snprintf (buf, len, "%" PRIu64 " s", ms / 1000);
      else
        snprintf (buf, len, "%.1f s", ms / 1000.0);
    }
  else
    snprintf (buf, len, "%.1f min", ms / 60000.0);
}

uint64_t
sq_now_ms (void)
{
  return sq_now_us () / 1000;
}

uint64_t
sq_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t
sq_wall_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf with write(), or on a socket with send() and
 * MSG_NOSIGNAL; retries on EINTR. */
static int
out_all (int fd, const void *buf, size_t len, int sock)
{
  const char *p = buf;

  while (len > 0)
    {
      ssize_t n = sock ? send (fd, p, len, MSG_NOSIGNAL) : write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= n;
    }
  return 0;
}

int
sq_write_all (int fd, const void *buf, size_t len)
{
  return out_all (fd, buf, len, 0);
}

int
sq_send_all (int fd, const void *buf, size_t len)
{
  return out_all (fd, buf, len, 1);
}

char *
sq_read_file_at (int dirfd, const char *path, size_t max, size_t *len_out, sq_err *err)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t len = 0, cap = 256;

  fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      sq_err_set (err, errno, "open '%s'", path);
      return NULL;
    }
  buf = malloc (cap);
  if (!buf)
    {
      sq_err_set (err, ENOMEM, "read '%s'", path);
      return NULL;
    }
  for (;;)
    {
      ssize_t n;
      if (len + 1 >= cap)
        {
          char *nb;
          if (cap > max)
            {
              sq_err_set (err, EFBIG, "read '%s'", path);
              return NULL;
            }
          cap *= 2;
          nb = realloc (buf, cap);
          if (!nb)
            {
              sq_err_set (err, ENOMEM, "read '%s'", path);
              return NULL;
            }
          buf = nb;
        }
      n = read (fd, buf + len, cap - len - 1);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          sq_err_set (err, errno, "read '%s'", path);
          return NULL;
        }
      if (n == 0)
        break;
      len += n;
      if (len > max)
        {
          sq_err_set (err, EFBIG, "read '%s'", path);
          return NULL;
        }
    }
  buf[len] = '\0';
  if (len_out)
    *len_out = len;
  return steal_pointer (&buf);
}

int
sq_write_file_at (int dirfd, const char *path, const char *value, sq_err *err)
{
  cleanup_close int fd = openat (dirfd, path, O_WRONLY | O_CLOEXEC);

  if (fd < 0)
    return sq_err_set (err, errno, "open '%s'", path);
  if (sq_write_all (fd, value, strlen (value)) < 0)
    return sq_err_set (err, errno, "write '%s' to '%s'", value, path);
  return 0;
}

int
sq_pread_u64 (int fd, const char *what, uint64_t *out, sq_err *err)
{
  char buf[64];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  char *end;

  if (n <= 0)
    return sq_err_set (err, n < 0 ? errno : EIO, "read '%s'", what);
  buf[n] = '\0';
  errno = 0;
  *out = strtoull (buf, &end, 10);
  if (errno || end == buf)
    return sq_err_set (err, EINVAL, "parse '%s'", what);
  return 0;
}

int
sq_read_u64_at (int dirfd, const char *path, uint64_t *out, sq_err *err)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return sq_err_set (err, errno, "open '%s'", path);
  return sq_pread_u64 (fd, path, out, err);
}

int
sq_valid_name (const char *s, size_t max)
{
  size_t n = 0;

  if (!s || !*s || *s == '.' || *s == '-')
    return 0;
  for (; s[n]; n++)
    {
      char c = s[n];
      if (n >= max)
        return 0;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '.' || c == '_' || c == '-' || c == ':'))
        return 0;
    }
  return 1;
}

int
sq_tmpfs_caps (int fs, uint64_t bytes, uint64_t inodes, const char *what, sq_err *err)
{
  char v[32];

  snprintf (v, sizeof v, "%" PRIu64, bytes);
  if (syscall (SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", v, 0) < 0)
    return sq_err_set (err, errno, "set the %s size to %s", what, v);
  snprintf (v, sizeof v, "%" PRIu64, inodes);
  if (syscall (SYS_fsconfig, fs, FSCONFIG_SET_STRING, "nr_inodes", v, 0) < 0)
    return sq_err_set (err, errno, "set the %s inodes to %s", what, v);
  return 0;
}

int
sq_tmpfs_detached (uint64_t bytes, uint64_t inodes, const char *mode, unsigned attrs,
                   const char *what, sq_err *err)
{
  cleanup_close int fs = -1;
  int m;

  fs = (int) syscall (SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return sq_err_set (err, errno, "fsopen tmpfs (needs Linux 5.2 or later)");
  if (sq_tmpfs_caps (fs, bytes, inodes, what, err) < 0)
    return -1;
  if (syscall (SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", mode, 0) < 0
      || syscall (SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return sq_err_set (err, errno, "create the %s tmpfs", what);
  m = (int) syscall (SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
  if (m < 0)
    return sq_err_set (err, errno, "fsmount the %s tmpfs", what);
  return m;
}

void
sq_json_put_str (FILE *f, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t left = strlen (s);

  putc ('"', f);
  while (left > 0)
    {
      size_t n = sq_utf8_seq (p, left);
      if (n == 0)
        {
          putc ('?', f);
          n = 1;
        }
      else if (*p == '"' || *p == '\\')
        {
          putc ('\\', f);
          putc (*p, f);
        }
      else if (*p < 0x20)
        {
          const char *esc = *p == '\n'   ? "\\n"
                            : *p == '\t' ? "\\t"
                            : *p == '\r' ? "\\r"
                                         : NULL;
          if (esc)
            fputs (esc, f);
          else
            fprintf (f, "\\u%04x", *p);
        }
      else
        fwrite (p, 1, n, f);
      p += n;
      left -= n;
    }
  putc ('"', f);
}

int
sq_rel_path_ok (const char *p, size_t max, int strict)
{
  size_t n = strlen (p);
  if (n > max || p[0] == '/' || (strict && n == 0))
    return 0;
  for (const char *c = p; *c;)
    {
      size_t l = strcspn (c, "/");
      if ((l == 0 && strict) || (l == 1 && c[0] == '.')
          || (l == 2 && c[0] == '.' && c[1] == '.'))
        return 0;
      c += l + (c[l] == '/');
    }
  for (const unsigned char *c = (const unsigned char *) p; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      return 0;
  return 1;
}
