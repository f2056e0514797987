/* The worker's notifications to systemd (sd_notify from libsystemd,
 * loaded only when $NOTIFY_SOCKET asks for them), and the loader it shares
 * with the metrics server. */
#define _GNU_SOURCE
#include "notify.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "../common/log.h"
#include "worker.h"

static typeof (sd_notify) *notify_fn;

void *
worker_dlload (const char *soname, const char *const *names, void **fns, size_t n,
               sq_err *err)
{
  void *h = dlopen (soname, RTLD_NOW | RTLD_LOCAL);

  if (!h)
    {
      sq_err_set (err, 0, "cannot load %s: %s", soname, dlerror ());
      return NULL;
    }
  for (size_t i = 0; i < n; i++)
    if (!(fns[i] = dlsym (h, names[i])))
      {
        sq_err_set (err, 0, "%s has no %s", soname, names[i]);
        dlclose (h);
        return NULL;
      }
  return h;
}

/* sd_notify, when the service manager asked for it. */
static void
notify (const char *fmt, ...)
{
  static int tried;
  char msg[512];
  va_list ap;

  if (!tried)
    {
      static const char *const names[] = { "sd_notify" };
      void *fn = NULL;
      sq_err err = { 0 };
      tried = 1;
      if (getenv ("NOTIFY_SOCKET")
          && !worker_dlload ("libsystemd.so.0", names, &fn, 1, &err))
        sq_warn ("%s; no readiness or watchdog notifications", err.msg);
      notify_fn = fn;
    }
  if (!notify_fn)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  notify_fn (0, msg);
}

void
notify_ready (struct worker *w)
{
  notify ("READY=1\nSTATUS=0/%d slots busy", w->cfg.concurrency);
}

void
notify_status (struct worker *w, int busy)
{
  notify ("WATCHDOG=1\nSTATUS=%d/%d slots busy%s%s", busy, w->cfg.concurrency,
          w->redis_up ? "" : ", Redis unreachable",
          w->stopping   ? ", stopping"
          : w->draining ? ", draining"
                        : "");
}

void
notify_failed (const char *fmt, ...)
{
  char msg[400];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  notify ("STATUS=%s", msg);
}

void
notify_stopping (void)
{
  notify ("STOPPING=1");
}
