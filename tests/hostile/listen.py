# Host-side listener for the network cases (trusted test code, loopback
# only). Prints the TCP port, then records any connection in MARKER.
import os, socket, sys, threading

marker, name = sys.argv[1], sys.argv[2]
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", 0))
tcp.listen()
ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ab.bind("\0" + name)
ab.listen()
print(tcp.getsockname()[1], flush=True)

def serve(s, what):
    while True:
        c, _ = s.accept()
        with open(marker, "a") as f:
            f.write(what + "\n")
        c.close()

threading.Thread(target=serve, args=(ab, "abstract"), daemon=True).start()
serve(tcp, "tcp")
