/* sandq-scope: asks systemd for a transient scope with Delegate=yes and
 * puts a process into it.
 *
 *   sandq-scope PID NAME
 *
 * On a cgroup v2 host run by systemd, a process may make cgroups of its
 * own only in a cgroup that systemd delegated to it. A worker started by
 * its unit has one (Delegate=yes); the sandbox CLI started from a shell,
 * a timer's service or a test agent does not. The sandbox library then
 * runs this helper, which does what `systemd-run --scope -p Delegate=yes`
 * does, over D-Bus with libsystemd's sd-bus: StartTransientUnit for
 * NAME.scope with PIDs=[PID], then waits until the kernel shows PID in
 * the scope's cgroup. The scope is collected when its last process exits,
 * also after a failure (CollectMode=inactive-or-failed).
 *
 * A program of its own, not a function of the sandbox library, because
 * the sandbox CLI is linked statically with musl and libsystemd is a
 * glibc library: only the hosts that need a scope pay for one exec.
 *
 * Exit status: 0 when PID is in the scope; 1 with a message on stderr that
 * says which step failed and why. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

static int
connect_systemd (sd_bus **bus)
{
  int r;

  /* As root, systemd's own socket: no dbus-daemon needed (minimal hosts,
   * early boot). Otherwise, and as a fallback, the system bus. */
  if (geteuid () == 0 && access ("/run/systemd/private", F_OK) == 0)
    {
      r = sd_bus_new (bus);
      if (r >= 0)
        r = sd_bus_set_address (*bus, "unix:path=/run/systemd/private");
      if (r >= 0)
        r = sd_bus_start (*bus);
      if (r >= 0)
        return 0;
      *bus = sd_bus_unref (*bus);
    }
  return sd_bus_open_system (bus);
}

/* 1 once /proc/PID/cgroup names the scope, 0 if not yet, -1 if PID is gone. */
static int
in_scope (const char *pid, const char *unit)
{
  char path[64], buf[4096];
  int fd;
  ssize_t n;

  snprintf (path, sizeof path, "/proc/%s/cgroup", pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  for (char *line = buf; line && *line;
       line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    if (strncmp (line, "0::", 3) == 0)
      {
        char *end = strchr (line, '\n');
        size_t ulen = strlen (unit);
        size_t llen = end ? (size_t) (end - line) : strlen (line);
        return llen > ulen + 1 && line[llen - ulen - 1] == '/'
               && strncmp (line + llen - ulen, unit, ulen) == 0;
      }
  return 0;
}

int
main (int argc, char **argv)
{
  sd_bus *bus = NULL;
  sd_bus_message *m = NULL, *reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  char unit[256];
  char *end;
  long pid;
  int r;

  if (argc != 3)
    {
      fprintf (stderr, "usage: sandq-scope PID NAME\n");
      return 2;
    }
  pid = strtol (argv[1], &end, 10);
  if (end == argv[1] || *end || pid <= 0)
    {
      fprintf (stderr, "sandq-scope: '%s' is not a process id\n", argv[1]);
      return 2;
    }
  snprintf (unit, sizeof unit, "%s.scope", argv[2]);

  r = connect_systemd (&bus);
  if (r < 0)
    {
      fprintf (stderr, "sandq-scope: cannot reach systemd over D-Bus: %s\n",
               strerror (-r));
      return 1;
    }
  r = sd_bus_message_new_method_call (
      bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
      "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  if (r >= 0)
    r = sd_bus_message_append (m, "ss", unit, "fail");
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = sd_bus_message_append (m, "(sv)(sv)(sv)(sv)", "Description", "s",
                               "sandq sandbox (delegated cgroup)", "PIDs", "au", 1,
                               (uint32_t) pid, "Delegate", "b", 1, "CollectMode", "s",
                               "inactive-or-failed");
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  if (r >= 0)
    r = sd_bus_message_append (m, "a(sa(sv))", 0);
  if (r < 0)
    {
      fprintf (stderr, "sandq-scope: build the D-Bus call: %s\n", strerror (-r));
      return 1;
    }
  r = sd_bus_call (bus, m, 10 * 1000000ULL, &error, &reply);
  if (r < 0)
    {
      fprintf (stderr, "sandq-scope: systemd refused the scope %s: %s\n", unit,
               error.message ? error.message : strerror (-r));
      sd_bus_error_free (&error);
      return 1;
    }
  /* The start job moves the process; it is done within milliseconds. */
  for (int i = 0; i < 2000; i++)
    {
      int s = in_scope (argv[1], unit);
      if (s > 0)
        return 0;
      if (s < 0)
        {
          fprintf (stderr, "sandq-scope: process %ld is gone\n", pid);
          return 1;
        }
      struct timespec ts = { 0, 5000000 };
      nanosleep (&ts, NULL);
    }
  fprintf (stderr, "sandq-scope: process %ld did not reach %s within 10 s\n", pid, unit);
  sd_bus_message_unref (reply);
  sd_bus_message_unref (m);
  sd_bus_unref (bus);
  return 1;
}
