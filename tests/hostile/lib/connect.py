# Tries to reach a host service. Exit 0 if it cannot, 3 if it can.
import socket, sys, os

kind = sys.argv[1]
try:
    if kind == "tcp":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=2)
    elif kind == "abstract":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect("\0" + sys.argv[2])
    elif kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[2])
    s.sendall(b"escaped\n")
    print("CONNECTED: the sandbox reached the host")
    sys.exit(3)
except OSError as e:
    print(f"cannot connect: {e}")
    sys.exit(0)
