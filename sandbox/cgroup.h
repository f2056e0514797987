/* Cgroups for sandboxes: v1 (or a v1/v2 hybrid) and pure v2 behind one API.
 *
 * Layout. Everything sandq creates lives below the cgroup the process was
 * started in, never at a hierarchy's root:
 *
 *   v1:  <mount>/<controller>/<own path>/sandq/<instance>/<job>
 *   v2:  <mount>/<own path>/sandq/<instance>/<job>
 *        (the process moves itself to <own path>/sandq/<instance>/supervisor
 *        first, because v2 forbids processes in a cgroup that has
 *        controllers enabled for its children)
 *
 * On a v2 host run by systemd, <own path> must be a cgroup systemd
 * delegated to the process (a service with Delegate=yes). A process
 * started anywhere else (a shell, a timer's service) first asks systemd
 * for a transient scope with Delegate=yes and moves into it (the
 * sandq-scope helper), as `systemd-run --scope -p Delegate=yes` would.
 *
 * <instance> is "<pid>-<starttime>" of the process that made it, so a later
 * start can tell a dead instance's leftovers from a live one's and sweep
 * only the former. On v1 the last process to leave also removes the
 * shared sandq directory (cg_subtree_open in cgroup_internal.h); on v2
 * this process sits in its own instance until it exits, and the
 * cgroup's owner (systemd) removes the rest.
 */
#ifndef SBX_CGROUP_H
#define SBX_CGROUP_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

enum cg_mode
{
  CG_MODE_V1,
  CG_MODE_V2,
};

enum cg_ctrl
{
  CG_MEMORY,
  CG_PIDS,
  CG_CPU,
  CG_CPUACCT,
  CG_NCTRL,
};

/* v1, for a process that runs many jobs: a job's cgroups are kept and
 * handed to later jobs instead of being made and removed for each one,
 * which is most of the kernel's work per job on v1 (a mkdir and rmdir per
 * hierarchy, and the lookups of the new directories' files). A set goes
 * back to the pool only once it holds no task; its limits are rewritten
 * when a job's differ; the counters a job reports (cpuacct.usage,
 * pids.events, the oom_kill count) are read as differences from a
 * baseline taken when the job got the set, and memory.max_usage_in_bytes
 * is reset then. The memory cgroup is kept only while what stays charged
 * to it after a job (page cache the job read first, its scratch files
 * until they are freed) is under CG_REUSE_MAX_LEFTOVER; over that it is
 * made anew, so that no job's usage, peak or room under its limit carries
 * an earlier job's by more than that. v2 keeps one fresh cgroup per job
 * (a single mkdir there). */
#define CG_REUSE_MAX_LEFTOVER (1 << 20)
struct cg_set
{
  int dirfd[CG_NCTRL];    /* by cg_host dir index: every hierarchy */
  int tasks_fd[CG_NCTRL]; /* each directory's "tasks", open for writing */
  int usage_fd;           /* cpuacct.usage */
  int pids_events_fd;     /* pids.events */
  int pids_current_fd;    /* pids.current */
  int mem_usage_fd;       /* memory.usage_in_bytes */
  int mem_max_fd;         /* memory.max_usage_in_bytes, read and reset */
  int mem_oom_fd;         /* memory.oom_control */
  uint64_t mem_limit;     /* as last written; 0: not yet */
  uint64_t pids_max;      /* as last written; 0: not yet */
  int64_t cpu_quota_us;   /* as last written; 0: not yet, -1: no cap */
  unsigned id;
  struct cg_set *next;
};

struct cg_ops;

struct cg_host
{
  enum cg_mode mode;
  const struct cg_ops *ops; /* the hierarchy's half: cgroup_v1.c, cgroup_v2.c */
  int hybrid;               /* v1 limits, cgroup2 mounted too */
  /* v1: one instance directory per distinct hierarchy; v2: dirfd[0] only. */
  int dirfd[CG_NCTRL];
  int ctrl_dir[CG_NCTRL]; /* index into dirfd for each controller */
  /* v1: each hierarchy's subtree directory, its share held (cgroup.c,
   * cg_subtree_open); -1 elsewhere. */
  int subtree_fd[CG_NCTRL];
  int ndirs;
  char path[CG_NCTRL][1280]; /* instance path of each dirfd, for logs */
  char instance[64];
  int has_memsw; /* v1: memory.memsw.* exists (swap cap) */
  /* v2: this process had no delegated cgroup and moved itself into a
   * transient systemd scope with Delegate=yes (sandq-scope). */
  int scoped;
  /* v1, for a process that runs one job: dirfd is the subtree itself,
   * and the job's cgroup is the instance directory (one level less to
   * make and remove). */
  int one_shot;
  int ready; /* cg_host_setup has succeeded */
  /* v1, not one_shot: the idle reusable sets (struct cg_set). */
  int pooled;
  pthread_mutex_t pool_lock;
  struct cg_set *pool;
  unsigned pool_idle, pool_next_id;
};

struct cg_limits
{
  uint64_t memory_bytes;
  uint64_t pids;
  uint32_t cpu_millicores; /* 0 = no CPU bandwidth cap */
};

struct cg_job
{
  int dirfd[CG_NCTRL]; /* parallel to cg_host.dirfd */
  int ndirs;
  /* v1: each directory's "tasks" file, opened by cg_job_create for the
   * job's first process to write "0" into (cg_job_enter). */
  int entry_fd[CG_NCTRL];
  int nentry;
  char name[64];
  /* v1 pooled: the set this job holds (all its directories and entry
   * files belong to the set), and the counters' baselines. */
  struct cg_set *set;
  uint64_t cpu_ns_base, pids_events_base, oom_kills_base;
};

struct cg_stats
{
  uint64_t cpu_ns;
  uint64_t memory_peak_bytes;
  uint64_t oom_kills;
  uint64_t pids_max_events;
};

/* Detects the layout, creates this instance's subtree and sweeps what dead
 * instances left behind. On failure the message says which path and why,
 * with a hint for the common causes. */
int cg_host_init (struct cg_host *h, int one_shot, sq_err *err);

/* cg_host_init in two steps, for a caller with other work to do between
 * them: detect sets mode, instance and one_shot, and touches no cgroup;
 * setup makes the subtree and sweeps (once: later calls return 0). Until
 * setup, only cg_host_fini may be called. */
int cg_host_detect (struct cg_host *h, int one_shot, sq_err *err);
int cg_host_setup (struct cg_host *h, sq_err *err);

/* One line for the start-up log: the mode and the paths in use. */
void cg_host_describe (const struct cg_host *h, char *buf, size_t len);

/* Removes this instance's subtree (its jobs must be gone; the pool's sets
 * go with it) and closes fds. */
void cg_host_fini (struct cg_host *h);

/* Creates the job's cgroup(s) and applies the limits. */
int cg_job_create (struct cg_host *h, struct cg_job *j, const char *name,
                   const struct cg_limits *lim, sq_err *err);

/* Writes the limits of an existing job cgroup (cg_job_create writes them
 * too). */
int cg_job_set_limits (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                       sq_err *err);

/* How the job's first process gets into its cgroup. Moving another
 * process by pid takes the kernel's global threadgroup lock for writing,
 * which waits for an RCU grace period after an idle spell (10 ms here) and
 * stalls every fork, exec and exit on the host meanwhile. Two ways avoid
 * it:
 *   v2: clone3 with CLONE_INTO_CGROUP and cg_job_clone_fd();
 *   v1: the new process calls cg_job_enter() itself, first thing: a
 *       thread that moves only itself skips that lock (Linux 6.4). A
 *       one-shot process makes the cgroups after the clone instead, and
 *       sends init the entry files to write "0" into (run.c,
 *       send_cgroup).
 * cg_job_clone_fd is -1 on v1. cg_job_enter is async-signal-safe and is a
 * no-op on v2. The parent closes the entry files with cg_job_entered once
 * the process is cloned. */
int cg_job_clone_fd (const struct cg_host *h, const struct cg_job *j);
int cg_job_enter (const struct cg_job *j);
void cg_job_entered (struct cg_job *j);

/* Opens, for writing, the file a process writes "0" into to move itself
 * into the job's memory cgroup (v1: the memory hierarchy's "tasks", a
 * thread moving itself; v2: the job cgroup's "cgroup.procs"), and, with
 * leave, the one that moves it back into this process's own (v1: the
 * memory cgroup it was started in; v2: the supervisor leaf). */
int cg_job_charge_files (struct cg_host *h, struct cg_job *j, int *join, int *leave,
                         sq_err *err);

/* Moves pid into the job's cgroup(s): the slow way, for kernels without
 * CLONE_INTO_CGROUP. */
int cg_job_attach (struct cg_host *h, struct cg_job *j, pid_t pid, sq_err *err);

/* Total CPU time used by the job so far, cheap enough to poll. */
int cg_job_cpu_ns (struct cg_host *h, struct cg_job *j, uint64_t *ns);
/* The processes and threads in the job's cgroup, from its pids.current;
 * -1 if it cannot be read. */
int cg_job_tasks (struct cg_host *h, struct cg_job *j, uint64_t *n);

int cg_job_stats (struct cg_host *h, struct cg_job *j, struct cg_stats *st);

/* Kills every process in the job's cgroup and waits until it is empty, then
 * removes the cgroup(s). Safe to call on a job that was never created. */
int cg_job_destroy (struct cg_host *h, struct cg_job *j, sq_err *err);

/* Finds, in the text of /proc/PID/cgroup (modified in place), the path for
 * the v1 controller ctrl, or for the v2 hierarchy ("0::PATH") when ctrl is
 * NULL. 0 if found, -1 if not. */
int cg_parse_proc_cgroup (char *data, const char *ctrl, char *out, size_t len);

/* Sweeps stale instances (dead owner) below the sandq subtree. Returns the
 * number of job cgroups removed. Called by cg_host_init. */
int cg_sweep (struct cg_host *h);

#endif
