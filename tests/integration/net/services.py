# Stand-in services for the network-profile test, run inside a network
# namespace the test made (never on the host's own network):
#   - a PyPI "simple" index over TLS, serving the wheels in WHEELDIR;
#   - plain TCP services that answer their own name on connect;
#   - a UDP echo on port 53.
# usage: services.py CERT KEY WHEELDIR TLS_ADDR:PORT NAME=ADDR:PORT...
import hashlib, http.server, os, socket, ssl, sys, threading

cert, key, wheeldir, tls = sys.argv[1:5]
plain = [a.split("=", 1) for a in sys.argv[5:]]


class Index(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="text/html"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        wheels = sorted(os.listdir(wheeldir))
        if parts == ["simple"]:
            names = sorted({w.split("-")[0] for w in wheels})
            body = "".join('<a href="/simple/%s/">%s</a>\n' % (n, n) for n in names)
            return self.send(200, body.encode())
        if len(parts) == 2 and parts[0] == "simple":
            mine = [w for w in wheels if w.split("-")[0] == parts[1].replace("-", "_")]
            if not mine:
                return self.send(404, b"not found")
            links = []
            for w in mine:
                h = hashlib.sha256(open(os.path.join(wheeldir, w), "rb").read()).hexdigest()
                links.append('<a href="/files/%s#sha256=%s">%s</a>\n' % (w, h, w))
            return self.send(200, "".join(links).encode())
        if len(parts) == 2 and parts[0] == "files" and parts[1] in wheels:
            data = open(os.path.join(wheeldir, parts[1]), "rb").read()
            return self.send(200, data, "application/octet-stream")
        self.send(404, b"not found")


def serve_tls():
    host, port = tls.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Index)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def serve_plain(name, host, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            c.sendall((name + "\n").encode())
        finally:
            c.close()


def serve_udp(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 53))
    while True:
        data, peer = s.recvfrom(512)
        s.sendto(data, peer)


threads = [threading.Thread(target=serve_tls, daemon=True)]
for name, addr in plain:
    host, port = addr.rsplit(":", 1)
    threads.append(threading.Thread(target=serve_plain, args=(name, host, int(port)), daemon=True))
threads.append(threading.Thread(target=serve_udp, args=(tls.rsplit(":", 1)[0],), daemon=True))
for t in threads:
    t.start()
print("ready", flush=True)
threading.Event().wait()
