/* Small dependency-free helpers shared by every sandq program. */
#ifndef SQ_UTIL_H
#define SQ_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Parses a byte size: a whole number with an optional K, M, G or T suffix
 * (powers of 1024, an optional trailing "iB" or "B"). "name" is the option
 * or field being parsed, used in the error message. */
int sq_parse_size (const char *s, const char *name, uint64_t *out, sq_err *err);

/* Parses seconds, fractions allowed ("1.5"), into milliseconds. Accepts an
 * optional "ms", "s", "m", "h" or "d" suffix. Zero and negatives are
 * rejected. */
int sq_parse_duration_ms (const char *s, const char *name, uint64_t *out, sq_err *err);

/* Parses a whole number in [min, max]. */
int sq_parse_uint (const char *s, const char *name, uint64_t min, uint64_t max,
                   uint64_t *out, sq_err *err);

/* Formats a byte count for people: "256 MiB", "1.5 GiB", "512 bytes". */
void sq_format_size (uint64_t bytes, char *buf, size_t len);

/* Formats milliseconds for people: "2 s", "1.5 s", "250 ms", "3 min". */
void sq_format_duration (uint64_t ms, char *buf, size_t len);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t sq_now_ms (void);

/* A relative path of plain components: not absolute, no "." or "..", no
 * control characters, at most max bytes. strict also refuses the empty
 * path and empty components ("a//b"), which the lenient form allows (its
 * users normalize them). */
int sq_rel_path_ok (const char *p, size_t max, int strict);

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t sq_now_us (void);

/* Milliseconds since the epoch on CLOCK_REALTIME. */
uint64_t sq_wall_ms (void);

/* Writes all of buf, retrying on EINTR and short writes. */
int sq_write_all (int fd, const void *buf, size_t len);

/* The same on a connected socket, with MSG_NOSIGNAL: a peer that went away
 * is EPIPE, never SIGPIPE, whatever the process does with the signal. */
int sq_send_all (int fd, const void *buf, size_t len);

/* Reads a whole small file into a NUL-terminated malloc'ed buffer; refuses
 * files larger than max. *len_out may be NULL. */
char *sq_read_file_at (int dirfd, const char *path, size_t max, size_t *len_out,
                       sq_err *err);

/* Writes a short string to a file (as for cgroup and /proc knobs). */
int sq_write_file_at (int dirfd, const char *path, const char *value, sq_err *err);

/* Reads a decimal number from a file. */
int sq_read_u64_at (int dirfd, const char *path, uint64_t *out, sq_err *err);

/* The same from a file open at fd, read from its start (a counter kept
 * open and read again); what names it in the message. */
int sq_pread_u64 (int fd, const char *what, uint64_t *out, sq_err *err);

/* Sets "size" and "nr_inodes" of a tmpfs being configured (fsopen or
 * fspick); the message names what as "the <what> size". */
int sq_tmpfs_caps (int fs, uint64_t bytes, uint64_t inodes, const char *what,
                   sq_err *err);

/* A tmpfs that exists only as a file descriptor (fsopen, fsmount): no host
 * path, no mount in the host's namespace, nothing to clean up after a
 * crash. mode is its root's, attrs are MOUNT_ATTR_* flags. */
int sq_tmpfs_detached (uint64_t bytes, uint64_t inodes, const char *mode, unsigned attrs,
                       const char *what, sq_err *err);

/* True if s is a valid name for ids and queues: 1..max chars from
 * [A-Za-z0-9._:-], not starting with '.' or '-'. */
int sq_valid_name (const char *s, size_t max);

/* Writes s to f as a JSON string, quotes included: '"', '\\' and control
 * characters escaped, and each byte that does not begin a valid UTF-8
 * sequence written as '?' (see sq_utf8_sanitize), so the output is always
 * valid JSON. For the sandbox CLI, which writes its one object by hand. */
void sq_json_put_str (FILE *f, const char *s);

#endif
