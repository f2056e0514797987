/* Types shared by the sandbox's own files; not part of the public API. */
#ifndef SBX_INTERNAL_H
#define SBX_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "init_proto.h"
#include "sandbox.h"
#include "seccomp.h"

/* The uid and gid the program has inside its user namespace. */
#define SBX_INNER_ID 1000

/* RLIMIT_SIGPENDING of a job: its queued signals and POSIX timers, all
 * its processes together (see set_limits in init.c). */
#define SBX_SIGPENDING_MAX 256

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

/* The most a job's argv and envp may hold, together: init receives them
 * into fixed buffers of its own. */
#define SBX_JOB_MAX_ARGS 4096
#define SBX_JOB_MAX_BYTES (1 << 20)
#define SBX_NETNS_SLOTS 256
/* How long a running program's slot waits before making its next
 * prewarmed sandbox, unless the job is over sooner (see warm_slot). A
 * short job then reports before that work starts, and does not share
 * the CPUs with it; a longer one has its next sandbox made beside it. */
#define SBX_WARM_HOLD_MS 10

/* Per-process state: the cgroup subtree, sandq-init and the rootfs plan,
 * all made once so that a run only executes them. */
/* A template being built: input and result of the building thread. */
struct tmpl_build
{
  struct sbx_host *h;
  int fd;
  char msg[300];
};

struct sbx_host
{
  struct sbx_host_config cfg;
  struct cg_host cg;
  struct rootfs_step steps[SBX_MAX_STEPS];
  unsigned nsteps;
  char *strings; /* owns the plan's paths */
  char *plan;    /* the plan as sandq-init receives it (init_proto.h) */
  size_t plan_size;
  int init_fd;  /* sealed memfd holding sandq-init */
  int cap_last; /* /proc/sys/kernel/cap_last_cap */
  unsigned seq; /* for cgroup names; atomically incremented */
  /* Per-slot network namespaces, made on first use (see sbx_slot_netns_fd
   * in sandbox.c), in the order they were made: for helpers, and for the
   * one sandbox of a one_shot host. */
  struct
  {
    unsigned slot;
    int fd;
  } netns[SBX_NETNS_SLOTS];
  unsigned nnetns;
  /* Per slot with sbx_prewarm: a thread that keeps one sandbox ready.
   * Entries are only added; under netns_lock. Each has its own condition
   * variable: a take or a build wakes that slot's two threads, not every
   * slot's. */
  struct warm_slot
  {
    struct sbx_host *h;
    unsigned slot;
    struct sbx *b; /* ready, or NULL */
    pthread_t thread;
    int running, stop;
    int building; /* the thread is making b now */
    /* The slot's last one was taken, and its job has not ended yet: the
     * next is made after that (sbx_warm_resume), not while the job
     * unpacks, runs and reports on the same CPUs and cgroup locks; but
     * no later than hold_until_ms (monotonic): a second after the take,
     * brought forward to SBX_WARM_HOLD_MS after the program's start, so
     * that a long job's slot gets its next sandbox while it runs. 0: not
     * held. */
    uint64_t hold_until_ms;
    pthread_cond_t cond;
  } warm[SBX_NETNS_SLOTS];
  unsigned nwarm;
  /* The template mount namespace (see sbx_template_build): an nsfs fd,
   * when it was made, and the thread making the first one. */
  pthread_mutex_t tmpl_lock;
  int tmpl_fd;
  uint64_t tmpl_made_ms;
  pthread_t tmpl_thread;
  int tmpl_pending;
  struct tmpl_build tmpl_build;
  char tmpl_err[300];
  pthread_mutex_t netns_lock;
  pthread_mutex_t netns_make_lock; /* one maker at a time */
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
  /* Set by sbx_start: init is waiting in its namespaces and cgroup for
   * the job. The supervisor's ends of its channels, and its cgroup. */
  int started;
  int prewarmed;     /* made by sbx_prewarm, with the default limits */
  int warm_next_now; /* sbx_warm_next_now */
  int pidfd, sync_wr, rep_rd;
  pid_t init_pid;
  /* sbx_settle_later: sbx_run may return before init's exit; then
   * unsettled is set until sbx_settle has waited for it and removed the
   * job's cgroup (pidfd and rep_rd stay open until then). */
  int settle_later;
  int unsettled;
  /* sbx_stage: the job is with init, which waits for 'r'; the output
   * page (mapped read-only) and its memfd until the run is over. */
  int staged, stage_failed;
  sq_err stage_err;
  struct init_output *page;
  int page_fd;
  struct sbx_netstate *net; /* sbx_set_network, or NULL */
  struct cg_job job;
  struct cg_limits job_limits; /* what job's cgroup was made with */
};

/* What the child needs between clone and its execve of sandq-init. It
 * shares the caller's memory (CLONE_VM) and the caller's thread sleeps
 * until the execve (CLONE_VFORK), so everything is prepared here, and the
 * child makes raw syscalls only: no allocation, no lock, no libc state. */
struct sbx_spawn
{
  const struct cg_job *job;
  int src[INIT_FD_SCRATCH - INIT_FD_SYNC + 1]; /* for INIT_FD_SYNC.., or -1 */
  int init_fd;
  int err;          /* set by the child if it fails */
  const char *what; /* and what failed */
};

/* Writes a new init's id maps (SBX_INNER_ID inside, outer outside) and
 * its OOM score, before it learns its job (child.c). */
int sbx_setup_init_proc (pid_t pid, unsigned outer, sq_err *err);

/* Clones init with flags into new namespaces, in the job's cgroup
 * (cgroup_fd, v2) from birth where it can (*attach: move it by pid), with
 * the template mount namespace tfd (if >= 0) and the network namespace
 * *netns (if >= 0; if it cannot be entered, *netns becomes -1 and init
 * gets a new one) copied or joined: the calling thread steps into them
 * for the clone and back (child.c). The pid, whose sp->err then says
 * whether it failed before its execve; or -1 and err. */
pid_t sbx_spawn_init (struct sbx_spawn *sp, int tfd, int *netns, uint64_t flags,
                      int cgroup_fd, int *pidfd, int *attach, sq_err *err);

/* Starts a thread of the library's own, with every signal blocked. */
int sbx_start_thread (pthread_t *th, void *(*fn) (void *), void *arg);

/* A new sandbox for slot with the limits lim, not started, made here
 * and now (sandbox.c); sbx_new takes a prewarmed one first. */
struct sbx *sbx_new_cold (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot,
                          sq_err *err);

/* Kills b's init (if it is still there) and reaps it; pidfd stays open
 * (run.c). */
void sbx_kill_init (struct sbx *b);

/* The slot's ready prewarmed sandbox, taken, or NULL; and whether a
 * started sandbox's init is gone (prewarm.c). */
struct sbx *sbx_take_warm (struct sbx_host *h, unsigned slot);
/* Unmaps and closes the output page of a staged sandbox (supervise.c). */
void sbx_unstage (struct sbx *b);
int sbx_init_exited (const struct sbx *b);
/* The slot's job is over (or gone): its thread may make the next one.
 * sbx_warm_resume_by: it may at at_ms (monotonic), unless an earlier
 * time was set; the job's start sets one for a program that runs on. */
void sbx_warm_resume (struct sbx_host *h, unsigned slot);
void sbx_warm_resume_by (struct sbx_host *h, unsigned slot, uint64_t at_ms);

/* Whether the host's cgroups are made at its first sandbox's start, not
 * by sbx_host_new: in a one-shot process on v1, where init builds its
 * root meanwhile (the job's cgroups are late there too, see sbx_start).
 * sbx_host_cgroups makes them, once (sandbox.c). */
int sbx_cgroup_late (const struct sbx_host *h);
int sbx_host_cgroups (struct sbx_host *h, sq_err *err);

/* Starts the thread that makes the slots' network namespaces ahead
 * (sbx_host_config.prefetch_count), and joins it and closes them all
 * (netns.c). */
void sbx_netns_prefetch (struct sbx_host *h);
void sbx_netns_release (struct sbx_host *h);

/* Makes b's scratch disk with b->lim's caps, its directories owned by
 * the program's uid, and opens /work; gives it other caps (scratch.c). */
int sbx_scratch_make (struct sbx *b, sq_err *err);
int sbx_scratch_resize (struct sbx *b, const struct sbx_limits *lim, sq_err *err);

/* Starts init for b: namespaces, id maps, cgroup; init then builds the
 * root and waits for the job, which sbx_run sends. */
int sbx_start (struct sbx *b, sq_err *err);

/* Sends init 'c' and the job (ex's argv, envp and fds, b's limits) with
 * the output page page_fd (init_proto.h). */
int sbx_send_job (struct sbx *b, const struct sbx_exec *ex, int page_fd, sq_err *err);

/* The template mount namespace, made or remade (when a minute old, so
 * that host files replaced since are seen) as needed; -1 and err on
 * failure. */
int sbx_template (struct sbx_host *h, sq_err *err);

/* Gives a started sandbox's cgroup the job's limits, if it was made with
 * others (a prewarmed one has the defaults): before anything of the job
 * is charged to it, so that the limits hold from the first page. */
int sbx_job_limits (struct sbx *b, sq_err *err);

/* The job's network (network.c): its helper starts before the job and
 * reports after it; freed with the sbx. */
int sbx_net_start (struct sbx *b, pid_t init_pid, sq_err *err);
void sbx_net_finish (struct sbx *b, struct sbx_result *res);
int sbx_net_has_hosts (const struct sbx *b);
void sbx_net_free (struct sbx *b);

/* Kills and cleans up a started sandbox that will not run. */
void sbx_abandon (struct sbx *b);

/* Builds the sandbox's root in the calling thread's mount namespace, which
 * must be a private one of its own (unshare CLONE_FS, then CLONE_NEWNS),
 * and pivots into it: the template that every sandbox's mount namespace
 * is copied from. Its /proc is there only so that a sandbox may mount its
 * own over it (hidepid: it shows no process). With own, init builds its
 * root itself and that /proc is already its own. On failure it writes
 * "what: why" into msg. */
int sbx_template_build (const struct rootfs_step *steps, unsigned nsteps, int own,
                        char *msg, size_t msglen);

/* Runs in the sandbox's first process (pid 1 of its namespaces), whose
 * mount namespace is a copy of the template: mounts its /proc (with
 * new_proc) and the scratch disk. No allocation. On failure it writes "what: why" into
 * msg and returns -1. */
int sbx_rootfs_enter (int scratch_fd, int new_proc, char *msg, size_t msglen);

/* Brings up the loopback device of the calling thread's network namespace
 * (a new one starts with it down). */
int sbx_loopback_up (void);

/* Computes the rootfs plan from what the host has (merged /usr or not,
 * which /etc files exist), and its serialized form for sandq-init. */
int sbx_rootfs_plan (struct sbx_host *h, sq_err *err);

/* sandq-init, embedded (init_image.S), and a sealed memfd holding it. */
extern const unsigned char sbx_init_image[], sbx_init_image_end[];
int sbx_init_memfd (sq_err *err);

#endif
