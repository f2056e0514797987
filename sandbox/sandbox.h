/* sandq's sandbox: run one untrusted program under hard limits.
 *
 * This library knows nothing of Redis, JSON or queues. A caller makes one
 * sbx_host per process, then for each job:
 *
 *     struct sbx *b = sbx_new (host, &limits, slot, &err);
 *     ... put the inputs into sbx_work_fd (b), owned by sbx_uid (b) ...
 *     sbx_run (b, &exec, &result, &err);
 *     ... read the program's files from sbx_out_fd (b) ...
 *     sbx_free (b);
 *
 * The job's disk is a size- and inode-capped tmpfs made with the new mount
 * API and held only by a file descriptor: it has no path on the host, it is
 * moved into the sandbox's own mount namespace, and it vanishes when the
 * sbx is freed or the process dies. The program sees it as /work (its
 * working directory, with the inputs and an empty out/), /tmp and /dev/shm.
 */
#ifndef SANDQ_SANDBOX_H
#define SANDQ_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"
#include "../common/joblimits.h"
#include "../common/status.h"
#include "netpolicy.h"

/* The limits of one run. sbx_limits_default() fills in values that are
 * safe for untrusted code; none of them is unlimited. */
struct sbx_limits
{
  uint64_t memory_bytes;   /* RAM incl. tmpfs pages it writes, no swap */
  uint64_t cpu_ms;         /* CPU time, all processes together */
  uint64_t wall_ms;        /* wall-clock time from start to end */
  uint64_t pids;           /* processes and threads at once */
  uint64_t output_bytes;   /* stdout + stderr together */
  uint64_t disk_bytes;     /* /work + /tmp + /dev/shm together */
  uint64_t disk_inodes;    /* files and directories in the same */
  uint64_t nofile;         /* open files per process */
  uint32_t cpu_millicores; /* CPU bandwidth: 1000 = one core */
};

#define SBX_DEFAULT_MEMORY (512ULL << 20)
#define SBX_DEFAULT_CPU_MS 60000ULL
#define SBX_DEFAULT_WALL_MS 60000ULL
#define SBX_DEFAULT_PIDS 64ULL
#define SBX_DEFAULT_OUTPUT (16ULL << 20)
#define SBX_DEFAULT_DISK (256ULL << 20)
#define SBX_DEFAULT_INODES 16384ULL
#define SBX_DEFAULT_NOFILE 256ULL
#define SBX_DEFAULT_MILLICORES 1000U

void sbx_limits_default (struct sbx_limits *lim);

/* Sets one limit, given in the units of enum sq_limit. */
void sbx_limits_set (struct sbx_limits *lim, enum sq_limit which, uint64_t v);

/* Checks each limit against its allowed range; the message names the
 * limit ("memory must be between 4 MiB and 1 TiB"). */
int sbx_limits_check (const struct sbx_limits *lim, sq_err *err);

struct sbx_host_config
{
  uid_t uid_base;     /* host uid of slot 0; slot N runs as base + N */
  unsigned uid_count; /* slots available from uid_base */
  /* Keep one network namespace per slot (sbx_slot_netns_fd): for the
   * worker's helpers, which need one without network, and for the one
   * sandbox of a one_shot process, which takes it instead of making one
   * (it is made beside the rest of the set-up). Sandboxes of a process
   * that runs many never share one: each gets a fresh namespace, since
   * what the kernel keeps of a namespace's sockets (TIME_WAIT) outlives a
   * job and would show it to the next. */
  int reuse_netns;
  /* With reuse_netns: make the namespaces of slots [prefetch_slot,
   * prefetch_slot + prefetch_count) at once, in a thread of their own, so
   * that the rest of the set-up and the first runs need not wait for
   * them. */
  unsigned prefetch_slot, prefetch_count;
  /* This process runs one sandbox (the CLI): on cgroup v1 its cgroup is
   * made straight under sandq's subtree, one level less to make and
   * remove. */
  int one_shot;
  /* The template root (sbx_template) is rebuilt from the host when it is
   * older than this, so that a replaced host file reaches new sandboxes;
   * 0: SBX_TEMPLATE_MAX_AGE_MS. */
  uint64_t template_max_age_ms;
};

#define SBX_TEMPLATE_MAX_AGE_MS 60000

#define SBX_DEFAULT_UID_BASE 800000
#define SBX_DEFAULT_UID_COUNT 4096

struct sbx_host;

/* Per-process set-up: detects the cgroup layout (v1, hybrid or v2), makes
 * sandq's cgroup subtree below this process's own cgroup, sweeps what a
 * crashed instance left there, and readies the seccomp filter (compiled at
 * build time by libseccomp, see gen_seccomp.c). Needs root
 * (or CAP_SYS_ADMIN with a delegated cgroup subtree). */
struct sbx_host *sbx_host_new (const struct sbx_host_config *cfg, sq_err *err);

/* One line naming the cgroup layout in use, for the start-up log. */
const char *sbx_host_describe (const struct sbx_host *h);

/* Removes the cgroup subtree. All sbx of this host must be freed. */
void sbx_host_free (struct sbx_host *h);

struct sbx;

/* Keeps the slot's next sandbox ready ahead of time: a thread of the
 * library makes one (init in its namespaces and cgroup, its root built,
 * waiting) whenever the slot has none. sbx_new() for the slot takes it if
 * it is ready (and gives it the job's limits), so sbx_run() has only the
 * program left to start; otherwise it makes one as usual. Idempotent. */
int sbx_prewarm (struct sbx_host *h, unsigned slot, sq_err *err);

/* Waits up to timeout_ms for the slot's prewarmed sandbox to be ready;
 * 0 when it is. For benchmarks and tests. */
int sbx_prewarm_wait (struct sbx_host *h, unsigned slot, int timeout_ms);

/* The slot's network namespace (only a loopback device, up; owned by the
 * host's user namespace, so a job has no capability over it): for helpers
 * that should have no network (the worker's archive helper), and the one
 * sandbox of a one_shot host. Made if needed; -1 if the host keeps none.
 * Owned by the host. */
int sbx_slot_netns_fd (struct sbx_host *h, unsigned slot);

/* The same, with the reason when it cannot be made (a worker checks at
 * start, so that a missing capability stops it there instead of failing
 * every job). */
int sbx_slot_netns (struct sbx_host *h, unsigned slot, sq_err *err);

/* Stops the slot's prewarm thread and discards its sandbox, if any. Call
 * it only when no sandbox of the slot runs: a sandbox dies with the thread
 * that made it. */
void sbx_unwarm (struct sbx_host *h, unsigned slot);

/* Makes a sandbox for one run: the scratch tmpfs with work/, work/out/,
 * tmp/ and shm/. slot picks the host uid (uid_base + slot % uid_count);
 * concurrent sandboxes of one host should use distinct slots. */
struct sbx *sbx_new (struct sbx_host *h, const struct sbx_limits *lim, unsigned slot,
                     sq_err *err);

/* The job's working directory, for the caller to fill before sbx_run().
 * Files put there must be owned by sbx_uid() to be writable inside. */
int sbx_work_fd (const struct sbx *b);
uid_t sbx_uid (const struct sbx *b);

/* Copies a host directory tree into the work directory (regular files,
 * directories and symlinks; nothing else), owned by sbx_uid(). Counts
 * against the disk limit, and against the memory limit like any file
 * the job writes: the copy is made by a child process in the job's
 * memory cgroup (see sbx_charge_files), so the pages are charged to the
 * job, not to the caller. */
int sbx_copy_in (struct sbx *b, int srcdirfd, sq_err *err);

/* For a helper process that writes the job's disk (an unpacker): opens
 * the file a process writes "0" into to move itself into the job's
 * memory cgroup, so that the memory it then uses, and every page it
 * writes into the job's disk, is charged to the job and counts against
 * its memory limit; and, if leave is not NULL, the file that moves it
 * back to the caller's own cgroup. It must be back (or gone) before
 * sbx_run ends, which empties the job's cgroup. On cgroup v2 it joins
 * the job's whole cgroup: its CPU time and its process count go to the
 * job as well. Starts the sandbox if it is not yet. */
int sbx_charge_files (struct sbx *b, int *join, int *leave, sq_err *err);

/* The oom_score_adj of a sandbox's processes. A helper charged to the
 * job (sbx_charge_files) takes it too: under the job's memory limit the
 * kernel then kills the helper, not the job's waiting init. */
#define SBX_OOM_SCORE_ADJ "1000"

/* Before sbx_run: whether the kernel's OOM killer has acted in the job's
 * memory cgroup (a helper charged to it ran out of room). */
int sbx_oom_killed (struct sbx *b);

struct sbx_exec
{
  char *const *argv; /* argv[0] is looked up in PATH inside */
  char *const *envp; /* complete environment; NULL = sbx_default_env */
  int stdin_fd;      /* -1: /dev/null */
  int stdout_fd;     /* where captured stdout goes; -1: discard */
  int stderr_fd;     /* where captured stderr goes; -1: discard */
};

/* The environment a job gets when the caller gives none. */
extern char *const sbx_default_env[];

/* Whether ex's command and environment fit what a sandbox takes (a
 * count of strings and bytes); if not, -1 and err names the limit.
 * sbx_run and sbx_stage check it too, later. */
int sbx_exec_check (const struct sbx_exec *ex, sq_err *err);

struct sbx_result
{
  enum sq_status status;
  int exit_code; /* -1 unless the program exited */
  int signal;    /* 0 unless a signal ended it */
  uint64_t wall_ms;
  uint64_t cpu_ms;
  uint64_t memory_peak_bytes;
  uint64_t stdout_bytes;
  uint64_t stderr_bytes;
  uint64_t disk_bytes; /* scratch space in use when it ended */
  /* With a network (sbx_set_network): packets its filter refused (for
   * TCP, one per connection attempt), and the first few destinations,
   * "ADDR:PORT/PROTO" joined by ", ". */
  uint64_t net_refused;
  char net_refused_to[160];
  char message[512]; /* one sentence for a person */
};

/* The run's figures, in the order every writer of a result gives them
 * (sandq-sandbox's JSON, the worker's result.json and job record):
 * X(member) for each uint64_t member of struct sbx_result above. */
#define SBX_RESULT_FIGURES(X)                                                            \
  X (wall_ms)                                                                            \
  X (cpu_ms)                                                                             \
  X (memory_peak_bytes)                                                                  \
  X (stdout_bytes)                                                                       \
  X (stderr_bytes)                                                                       \
  X (disk_bytes)

/* A link out for the job, through a filter that lets out new TCP
 * connections to these destinations only (and loopback, and replies);
 * everything else is refused at once and counted in the result. hosts,
 * "ADDR NAME" lines (may be NULL), is added to the job's /etc/hosts: the
 * job resolves no name itself. Without a call the job has loopback only,
 * as before. Made by the helper sandq-net (sandbox/net.c) when sbx_run
 * starts; the host needs IPv4 forwarding (net.ipv4.ip_forward=1). */
struct sbx_net
{
  unsigned ndests;
  struct sbx_net_dest dests[SBX_NET_MAX_DESTS];
  const char *hosts;
};

int sbx_set_network (struct sbx *b, const struct sbx_net *net, sq_err *err);

/* Adds "HOST:PORT" to net: HOST an IPv4 address or a name, resolved here
 * (IPv4 only), each of its addresses a destination and, for a name, a
 * line of hosts (a string of hosts_len bytes at most, NUL included). */
int sbx_net_resolve (struct sbx_net *net, char *hosts, size_t hosts_len, const char *dest,
                     sq_err *err);

/* Runs the program and waits for its verdict. Returns 0 with *res filled
 * in, whatever the program did; -1 when sandq itself failed (res->status is
 * then SQ_STATUS_SYSTEM_ERROR and err says why). When it returns, no
 * process of the job is left. An sbx runs once. */
int sbx_run (struct sbx *b, const struct sbx_exec *ex, struct sbx_result *res,
             sq_err *err);

/* Before sbx_run(), optional: sends init the job (ex, which sbx_run then
 * takes as given here), and init makes everything ready for the program
 * but its process: the seccomp filter, the bounding set, its stdio.
 * sbx_run() then only has it start. For a caller that fills the work
 * directory meanwhile (ex's fds must stay open until sbx_run). 0, or -1
 * and err (sbx_run then fails with the same error). */
int sbx_stage (struct sbx *b, const struct sbx_exec *ex, sq_err *err);

/* Before sbx_run(), optional, for a sandbox of a slot with a prewarm
 * thread (sbx_prewarm): the slot's next sandbox is made as soon as this
 * one's program starts, for a slot with more jobs waiting. Otherwise it
 * is made once this sandbox is freed, or 10 ms into its program, so that
 * a short job does not share the CPUs with that work. */
void sbx_warm_next_now (struct sbx *b);

/* Before sbx_run(): lets it return as soon as the program has ended and
 * no other process of the job is left (its pids cgroup holds init
 * alone), instead of after init's own exit, which tears down the
 * sandbox's namespaces. The caller can then read sbx_out_fd() while that
 * happens, and calls sbx_settle() to wait for it. A network
 * (sbx_set_network) is stopped and its counters read then too: nothing
 * of the job is left to use it. */
void sbx_settle_later (struct sbx *b);

/* After sbx_run() with sbx_settle_later(): waits for init's exit (killing
 * it if it has not gone within seconds) and removes the job's cgroup.
 * 0, or -1 and err: the sandbox was not cleaned up after. The verdict and
 * out/ stand either way: sbx_run() returned early only once no process
 * of the job was left, and otherwise settled itself (a failure then is
 * its system error, as processes of the job may have outlived init). 0 at
 * once when there is nothing to wait for; sbx_free() calls it if the
 * caller did not. */
int sbx_settle (struct sbx *b, sq_err *err);

/* Stops a running sbx_run() from another thread; its verdict becomes
 * "cancelled". Safe to call before, during or after the run. */
void sbx_cancel (struct sbx *b);

/* After sbx_run(): the program's out/ directory (read-only use: the tree
 * is hostile), or -1 if it removed it. Owned by the sbx. */
int sbx_out_fd (const struct sbx *b);

void sbx_free (struct sbx *b);

/* Writes the one-sentence message for a verdict into res->message. Exposed
 * for callers that decide verdicts themselves. */
void sbx_describe (struct sbx_result *res, const struct sbx_limits *lim);

/* Makes res sandq's own failure to run the program (a system error), its
 * message worded from err, as sbx_run does when it fails. */
void sbx_describe_failure (struct sbx_result *res, const sq_err *err);

#endif
