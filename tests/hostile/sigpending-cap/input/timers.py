# Creates POSIX timers until the kernel refuses; exit 0 if it refused
# within the job's own cap, 3 if the job took more.
import ctypes, errno, sys

libc = ctypes.CDLL(None, use_errno=True)
t = ctypes.c_void_p()
n = 0
while n < 200000:
    if libc.timer_create(1, None, ctypes.byref(t)) < 0:  # CLOCK_MONOTONIC
        break
    n += 1
e = ctypes.get_errno()
print(f"timers: {n}, then {errno.errorcode.get(e, e)}")
sys.exit(0 if n <= 256 and e == errno.EAGAIN else 3)
