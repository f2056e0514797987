/* Where the sandbox library finds its helper programs (sandq-scope,
 * sandq-net): beside the running program, else where make install put
 * them. */
#ifndef SANDQ_SANDBOX_HELPERS_H
#define SANDQ_SANDBOX_HELPERS_H

#include <stddef.h>

void sbx_helper_path (const char *name, char *out, size_t len);

#endif
