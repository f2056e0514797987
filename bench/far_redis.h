/* A relay that puts a fixed delay each way between a client and a local
 * Redis: see far_redis.c. */
#ifndef SQ_BENCH_FAR_REDIS_H
#define SQ_BENCH_FAR_REDIS_H

/* Listens on the unix socket path and relays each connection to the
 * unix socket target, delay_us each way, from threads of this process.
 * 0, or -1 with errno. */
int far_redis_start (const char *target, const char *path, long delay_us);

#endif
