/* The job spec: what to run, with which environment and limits.
 *
 * It arrives as JSON from Redis and is hostile until proven otherwise:
 * sq_spec_parse() checks every type, range, size and name, and its message
 * names the field ("spec.limits.memory_bytes: must be at most 4 GiB").
 * Limits are plain numbers in bytes or milliseconds; 0 (or absent) means
 * the worker's default.
 */
#ifndef SQ_SPEC_H
#define SQ_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "joblimits.h"

/* JSON names of the limits, in enum order. */
extern const char *const sq_limit_names[SQ_LIM__COUNT];

#define SQ_SPEC_VERSION 1
#define SQ_SPEC_MAX_BYTES (256 << 10)
#define SQ_SPEC_MAX_ARGS 256
#define SQ_SPEC_MAX_ARG_BYTES 4096
#define SQ_SPEC_MAX_ENV 128
#define SQ_SPEC_MAX_ENV_NAME 128
#define SQ_SPEC_MAX_ENV_VALUE 4096
#define SQ_SPEC_MAX_NETWORKS 8 /* network profiles a job names */
#define SQ_NETWORK_NAME_MAX 32
#define SQ_SPEC_MAX_INPUTS 8 /* earlier jobs' out/ as inputs */
#define SQ_SPEC_ID_MAX 128   /* as SQ_ID_MAX */
#define SQ_INPUT_PATH_MAX 255

struct sq_spec
{
  char **argv; /* NULL-terminated */
  int argc;
  char **env; /* "NAME=value", NULL-terminated */
  int nenv;
  uint64_t limits[SQ_LIM__COUNT];
  /* Network profiles the job asks for, by name (the worker's operator
   * defines what each lets through); none: the queue's default. */
  char networks[SQ_SPEC_MAX_NETWORKS][SQ_NETWORK_NAME_MAX + 1];
  int nnetworks;
  /* Earlier jobs of the same queue whose out/ (or out/PATH) is unpacked
   * into /work after the input, as it was under out/. */
  struct sq_spec_input
  {
    char job[SQ_SPEC_ID_MAX + 1];
    char path[SQ_INPUT_PATH_MAX + 1]; /* "" : all of out/ */
  } inputs[SQ_SPEC_MAX_INPUTS];
  int ninputs;
  /* "seal_to": the worker seals the result to this public key (seal.h),
   * and publishes no live output. */
  unsigned char seal_to[32];
  int sealed;
};

/* Upper bounds a worker accepts; a spec over them is rejected. */
struct sq_spec_policy
{
  uint64_t max[SQ_LIM__COUNT];
};

void sq_spec_policy_default (struct sq_spec_policy *p);

/* Parses and validates. On error *s is empty and err names the field. */
int sq_spec_parse (const char *json, size_t len, const struct sq_spec_policy *pol,
                   struct sq_spec *s, sq_err *err);

/* Serializes to compact JSON (malloc'ed). */
char *sq_spec_to_json (const struct sq_spec *s);

/* Adds "NAME=value" to s->env (copied); checks the name. */
int sq_spec_add_env (struct sq_spec *s, const char *name_eq_value, sq_err *err);

/* Adds a network profile's name; checks it (1-32 of [a-z0-9_-]) and the
 * count. */
int sq_spec_add_network (struct sq_spec *s, const char *name, sq_err *err);

/* Adds a chained input: the job id (jlen bytes of job) and a path under
 * its out/ ("" for all of it); checks both (the path relative, without
 * '..' or control characters). */
int sq_spec_add_input (struct sq_spec *s, const char *job, size_t jlen, const char *path,
                       sq_err *err);

void sq_spec_free (struct sq_spec *s);

#endif
