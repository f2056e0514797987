/* Inside the cgroup code: what cgroup.c shares with each hierarchy's half
 * (cgroup_v1.c, cgroup_v2.c), and the table through which it calls them,
 * in the shape of crun's cgroup-internal.h. Not for other callers: they
 * use cgroup.h. */
#ifndef SBX_CGROUP_INTERNAL_H
#define SBX_CGROUP_INTERNAL_H

#include <stdint.h>

#include "cgroup.h"

#define CG_MOUNT "/sys/fs/cgroup"
#define CG_SUBTREE "sandq"

extern const char *const cg_ctrl_names[CG_NCTRL];

/* One hierarchy's half of the API. */
struct cg_ops
{
  /* Finds or makes this instance's directories (h->dirfd, h->path,
   * h->ndirs, h->ctrl_dir). */
  int (*init) (struct cg_host *h, sq_err *err);
  /* Before cg_host_fini removes the instance directories. */
  void (*fini) (struct cg_host *h);
  void (*describe) (const struct cg_host *h, char *buf, size_t len);
  int (*set_limits) (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                     sq_err *err);
  int (*cpu_ns) (struct cg_host *h, struct cg_job *j, uint64_t *ns);
  /* Everything of struct cg_stats but cpu_ns. */
  void (*stats) (struct cg_host *h, struct cg_job *j, struct cg_stats *st);
};

extern const struct cg_ops cg_v1_ops, cg_v2_ops;

/* v1 with a pool: the job takes a set and gives it back (cgroup_v1.c). */
int cg_v1_job_take (struct cg_host *h, struct cg_job *j, const struct cg_limits *lim,
                    sq_err *err);
int cg_v1_job_give (struct cg_host *h, struct cg_job *j, sq_err *err);

/* This process's cgroup path for a v1 controller, or v2's when ctrl is NULL. */
int cg_own_path (const char *ctrl, char *out, size_t len, sq_err *err);
int cg_mkdir_at (int dirfd, const char *name, sq_err *err, const char *shown);
/* v1: makes or finds the subtree directory below the cgroup at bfd (shown
 * as base) and returns it open, with this process's share of it held
 * (see cgroup.c); cg_subtree_leave gives that share back and removes the
 * directory if no other process holds one and it is empty. */
int cg_subtree_open (int bfd, const char *base, sq_err *err);
void cg_subtree_leave (int sfd);
/* Kills everything in the cgroup at dirfd and waits (5 s at most) until
 * it is empty. */
int cg_kill_and_drain (int dirfd);
/* rmdir, waiting out the EBUSY of a cgroup whose last tasks still exit. */
int cg_rmdir_retry (int parentfd, const char *name);
/* "key value" from a flat-keyed cgroup file: open at fd (read from its
 * start), or by name below dirfd. */
int cg_pread_keyed (int fd, const char *key, uint64_t *out);
int cg_read_keyed (int dirfd, const char *file, const char *key, uint64_t *out);
int cg_write_knob (int dirfd, const char *file, const char *value, const char *job,
                   sq_err *err);

#endif
