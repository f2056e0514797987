/* Types shared by the sandbox's own files; not part of the public API. */
#ifndef SBX_INTERNAL_H
#define SBX_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "sandbox.h"
#include "seccomp.h"

/* The uid and gid the program has inside its user namespace. */
#define SBX_INNER_ID 1000

/* The fixed PATH used to find argv[0] inside the sandbox. */
#define SBX_PATH "/usr/local/bin:/usr/bin:/bin"

enum rootfs_op
{
  RF_DIR,     /* mkdir dst */
  RF_SYMLINK, /* symlink src at dst */
  RF_BIND_RO, /* bind src read-only at dst (dir or file) */
  RF_DEV,     /* bind a host device node at dst */
  RF_FILE,    /* write content to a new file dst */
};

struct rootfs_step
{
  enum rootfs_op op;
  const char *src;
  const char *dst; /* relative to the new root, no leading '/' */
  int is_dir;      /* RF_BIND_RO: the source is a directory */
};

#define SBX_MAX_STEPS 96
#define SBX_NETNS_SLOTS 256

/* Per-process state: the cgroup subtree, the compiled seccomp program and
 * the rootfs plan, all made once so that a run only executes them. */
struct sbx_host
{
  struct sbx_host_config cfg;
  struct cg_host cg;
  struct sbx_seccomp seccomp;
  struct rootfs_step steps[SBX_MAX_STEPS];
  unsigned nsteps;
  char *strings; /* owns the plan's paths */
  int cap_last;  /* /proc/sys/kernel/cap_last_cap */
  unsigned seq;  /* for cgroup names; atomically incremented */
  /* Per-slot network namespaces, made on first use and reused by the
   * slot's later runs (see sbx_slot_netns in sandbox.c), in the order
   * they were made. A slot that finds the table full gets a namespace
   * of its own per run. */
  struct
  {
    unsigned slot;
    int fd;
  } netns[SBX_NETNS_SLOTS];
  unsigned nnetns;
  pthread_mutex_t netns_lock;
  int reuse_netns;
  pthread_t prefetch;   /* see sbx_host_config.prefetch_count */
  int prefetch_pending; /* started and not joined yet */
  char desc[8192];
};

struct sbx
{
  struct sbx_host *host;
  unsigned slot;
  struct sbx_limits lim;
  uid_t uid;      /* host uid the program runs as */
  int scratch_fd; /* detached tmpfs (the job's whole disk) */
  int work_fd;    /* scratch:/work */
  int out_fd;     /* scratch:/work/out, after the run */
  int cancel_fd;  /* eventfd: sbx_cancel() writes it */
  int ran;
};

/* Runs in the sandbox's first process (pid 1 of its namespaces), before the
 * program is started. Builds the new root from the plan in the current
 * directory-less state and pivots into it. No allocation. On failure it
 * writes "what: why" into msg and returns -1. */
int sbx_rootfs_enter (const struct sbx_host *h, int scratch_fd, char *msg, size_t msglen);

/* Brings up the loopback device of the calling thread's network namespace
 * (a new one starts with it down). Only syscalls: safe between clone and
 * execve. */
int sbx_loopback_up (void);

/* The slot's reusable network namespace (loopback up, owned by the host's
 * user namespace, so a job has no capability over it), or -1 when runs of
 * this slot get a namespace of their own. */
int sbx_slot_netns (struct sbx_host *h, unsigned slot);

/* Computes the rootfs plan from what the host has (merged /usr or not,
 * which /etc files exist). */
int sbx_rootfs_plan (struct sbx_host *h, sq_err *err);

#endif
