# Leaves things in out/ that must never reach the host as-is.
import os
os.symlink("/etc/shadow", "out/shadow-link")
os.symlink("/root/.sandq-canary", "out/canary-link")
os.mkfifo("out/fifo")
open("/work/data", "w").write("fine\n")
os.link("/work/data", "out/hardlink")
open("out/bad\x01name", "w").write("control char\n")
os.mkdir("out/sub")
os.symlink("/", "out/sub/root")
open("out/ok.txt", "w").write("ok\n")
