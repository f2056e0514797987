# Run inside a sandbox: tries each destination given as NAME=HOST:PORT
# (tcp) or NAME=udp:HOST:PORT, and prints one line "NAME ok ANSWER" or
# "NAME refused ERROR" each.
import socket, sys

for arg in sys.argv[1:]:
    name, dest = arg.split("=", 1)
    try:
        if dest.startswith("udp:"):
            host, port = dest[4:].rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            s.connect((host, int(port)))
            s.send(b"ping")
            print(name, "ok", s.recv(16).decode())
        elif dest.startswith("v6:"):
            host, port = dest[3:].rsplit(":", 1)
            s = socket.socket(socket.AF_INET6)
            s.settimeout(3)
            s.connect((host, int(port)))
            print(name, "ok", s.recv(64).decode().strip())
        else:
            host, port = dest.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=3)
            s.settimeout(1)
            try:  # a TLS server says nothing first
                answer = s.recv(64).decode().strip()
            except socket.timeout:
                answer = ""
            print(" ".join(w for w in (name, "ok", answer) if w))
    except Exception as e:
        print(name, "refused", type(e).__name__, e)
    sys.stdout.flush()
