# Double fork + setsid: the classic way out of a process group.
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(0); os.close(1); os.close(2)
        time.sleep(60)
    os._exit(0)
time.sleep(0.2)
print("parent done")
