/* Between sandq-init's main (init.c) and the program's side of it
 * (init_program.c). */
#ifndef SBX_INIT_PROGRAM_H
#define SBX_INIT_PROGRAM_H

#include <sys/types.h>

#include "sandbox.h"

/* What the program starts with: its stdin and the write ends of its
 * output pipes, the report pipe (for an execve that fails), its limits,
 * argv and envp. */
struct prog_start
{
  int in_fd, out_fd, err_fd;
  int report_fd;
  const struct sbx_limits *lim;
  char *const *argv, *const *envp;
};

/* Starts the program (CLONE_VM | CLONE_VFORK: init sleeps until its
 * execve or exit); its pid, or -1. */
pid_t init_start_program (const struct prog_start *ps);

/* Writes one report record, kind then data (at most 511 bytes), in one
 * write; and one of text, kind then "what: strerror(e)" (or just what
 * when e is 0), in one write. */
void init_report (int fd, char kind, const void *data, size_t len);
void init_report_text (int fd, char kind, const char *what, int e);

/* Closes every fd except those in keep (unsorted, -1 entries ignored). */
void init_close_all_except (const int *keep, int n);

/* Empties the bounding and ambient sets (needs CAP_SETPCAP); empties the
 * effective, permitted and inheritable sets. */
int init_drop_bounding (int cap_last);
int init_clear_caps (void);

/* Every signal to its default action, none blocked. */
void init_reset_signals (void);

#endif
