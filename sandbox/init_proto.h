/* Between the supervisor (run.c) and the sandbox's pid 1, sandq-init
 * (init.c): a small static program of its own (musl), embedded in the
 * library and executed from a sealed memfd. So init holds no copy of the
 * caller's memory (a worker's Redis password, say), and the kernel copies
 * none of it at each sandbox's start: that copy stalled a worker's other
 * threads on its memory-map lock and made its memory copy-on-write.
 *
 * init starts with these fds and nothing else: */
#ifndef SBX_INIT_PROTO_H
#define SBX_INIT_PROTO_H

#include <stdint.h>

#include "sandbox.h"

enum
{
  INIT_FD_SYNC = 3,    /* socket from the supervisor: config, then the job */
  INIT_FD_REPORT = 4,  /* pipe to the supervisor: records, see REC_* */
  INIT_FD_SCRATCH = 5, /* the job's detached scratch tmpfs */
};

/* Exit code of init when it could not even report (parent gone). */
#define INIT_EXIT_ABORT 125

/* Report records from inside: one kind byte, then data. */
#define REC_SETUP 'F'  /* text: the sandbox could not be built */
#define REC_EXEC 'E'   /* text: the command could not be started */
#define REC_STATUS 'S' /* int: the program's wait status */

#define INIT_MAGIC 0x73716931u /* "sqi1" */

/* Sent on INIT_FD_SYNC after the byte 'g', once the id maps are written.
 * With build_root, plan_size bytes of rootfs plan follow: per step its
 * op and is_dir bytes, then src and dst, each NUL-terminated.
 *
 * With join_fds, the byte 'j' follows later, carrying 1 to join_fds fds
 * (SCM_RIGHTS): the "tasks" files of the job's v1 cgroups, one per
 * hierarchy, which the supervisor made while init built the root. init
 * writes "0" into each (a thread that moves itself skips the kernel's
 * global threadgroup lock, see cgroup.h) and closes them, before it
 * reads 'c'. */
struct init_config
{
  uint32_t magic;
  int32_t own_netns;  /* 0: a reused slot namespace, already set up */
  int32_t build_root; /* 1: cloned from the host's mount namespace, not the
                         template's: build the root here first */
  int32_t join_fds;   /* 0: born in the job's cgroup; else see 'j' */
  int32_t cap_last;
  uint32_t nsteps;
  uint32_t plan_size;
};

#define INIT_PLAN_MAX (64 << 10)

/* What init learns only when the job is known (it may have been started
 * before, see sbx_prewarm): sent after the byte 'c'. The strings follow
 * the header, each NUL-terminated: argv, then envp.
 *
 * The byte 'c' carries fds (SCM_RIGHTS): a memfd of one page holding a
 * struct init_output, then the program's stdin if fds has JOB_STDIN
 * (else it reads /dev/null), the caller's stdout sink if it has
 * JOB_STDOUT, and its stderr sink if it has JOB_STDERR. init makes the
 * program's stdout and stderr pipes itself and passes what comes through
 * them on to the sinks, up to the output limit: it is the job's pid 1, in
 * the job's memory cgroup, so the pages it writes (a memfd's, a file's
 * page cache) are charged to the job, not to the caller.
 *
 * init then makes ready (the filter, the bounding set) and starts the
 * program at the byte 'r', sent once the job's files are in place. */
struct job_header
{
  uint32_t size; /* of the strings */
  uint32_t argc, envc;
  uint32_t fds;   /* JOB_*: which fds came with 'c' */
  uint32_t flags; /* JOBF_* */
  struct sbx_limits lim;
};

#define JOB_STDIN 1u
#define JOB_STDOUT 2u
#define JOB_STDERR 4u
#define JOB_MAX_FDS 4

/* The supervisor wrote the job's /etc/hosts as "hosts" at the scratch
 * disk's root (which the job never sees): init binds it, read-only, over
 * the template's (sbx_set_network). */
#define JOBF_HOSTS 1u

/* The page init and the supervisor share: only init writes it, and the
 * supervisor reads it once init is gone, however it ended. */
struct init_output
{
  uint64_t bytes[2];  /* passed on from stdout, stderr: at most the limit together */
  int32_t capped;     /* the output limit was reached: init ended the job */
  int32_t sink_errno; /* a sink failed (ENOMEM: the job's memory is full) */
};

#endif
