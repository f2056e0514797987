# Each write must fail; exit 3 if one succeeds.
import sys
bad = 0
for path, data in [("/proc/sys/kernel/hostname", "pwned"),
                   ("/proc/sys/vm/drop_caches", "3"),
                   ("/proc/sysrq-trigger", "h"),
                   ("/sys/kernel/mm/transparent_hugepage/enabled", "never"),
                   ("/sys/fs/cgroup/cgroup.procs", "1"),
                   ("/usr/bin/sandq-owned", "x"),
                   ("/etc/passwd", "x")]:
    try:
        with open(path, "w") as f:
            f.write(data)
        print(f"WROTE {path}")
        bad = 1
    except OSError as e:
        print(f"{path}: {e.strerror}")
sys.exit(3 if bad else 0)
