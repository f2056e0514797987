/* sandq mcp, between its files: mcp.c (JSON-RPC, the tools, the calls in
 * flight) and mcp_result.c (a finished call's answer, resources/read). */
#ifndef SQ_MCP_H
#define SQ_MCP_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"

#define MCP_MAX_MESSAGE (48u << 20) /* a line: files travel in base64 */
#define MCP_MAX_INPUT (32u << 20)   /* the packed files of one call */
#define MCP_MAX_FILES 64
#define MCP_TAIL 8192 /* of stdout and stderr, in the text block */
#define MCP_MAX_IMAGES 4
#define MCP_MAX_IMAGE (1u << 20)
#define MCP_MAX_LISTED 200           /* out/ files named in a result */
#define MCP_MAX_OUT_FILE (64u << 20) /* hashed and served */
#define MCP_PIECE (256u << 10)       /* resources/read, per read */
#define MCP_TICK_MS 250
#define MCP_PROGRESS_MS 2000

struct call
{
  json_t *rpc_id; /* the tools/call request's id */
  json_t *token;  /* its progressToken, or NULL */
  char id[SQ_ID_MAX + 1], queue[SQ_QUEUE_MAX + 1];
  char state[16];
  uint64_t started_ms, last_progress_ms;
  int progress;
  struct call *next;
};

struct mcp
{
  struct cli *c;
  const char *queue;
  int version; /* index into versions */
  struct call *calls;
};

/* A JSON-RPC error reply on stdout. */
void mcp_reply_error (json_t *id, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* data in base64 (malloc'ed), or NULL. */
/* A tool result that is an error the model can act on. */
json_t *mcp_tool_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Checks a tools/call's arguments, packs and submits its job (mcp_submit.c):
 * NULL when it is queued (call filled in), else the tool result to send. */
json_t *mcp_submit_call (struct mcp *m, const char *tool, json_t *args,
                         struct call *call);

char *mcp_base64_encode (const void *data, size_t len);

/* The tools/call result of a finished job. */
json_t *mcp_final_result (struct mcp *m, struct call *call, json_t *job);

/* The result of resources/read, or NULL when an error was replied. */
json_t *mcp_read_resource (struct mcp *m, json_t *id, json_t *params);

#endif
