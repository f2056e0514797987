# Socket families: unix, inet, inet6 and netlink route work; every other
# family (vsock, which the kernel does not namespace; packet; alg;
# bluetooth; anything unknown) and every other netlink protocol is refused.
# Exit 0 if so, 3 if not.
import errno, socket, sys

bad = 0
def want_ok(name, fam, typ, proto=0):
    global bad
    try:
        socket.socket(fam, typ, proto).close()
        print(f"{name}: allowed")
    except OSError as e:
        print(f"{name}: REFUSED ({errno.errorcode.get(e.errno, e.errno)})")
        bad = 1

def want_refused(name, fam, typ, proto=0, pair=False):
    global bad
    try:
        if pair:
            for s in socket.socketpair(fam, typ, proto):
                s.close()
        else:
            socket.socket(fam, typ, proto).close()
        print(f"{name}: NOT REFUSED")
        bad = 1
    except OSError as e:
        if e.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            print(f"{name}: refused with {errno.errorcode[e.errno]}")
        else:
            print(f"{name}: failed with {errno.errorcode.get(e.errno, e.errno)}, not the filter's answer")
            bad = 1

want_ok("AF_UNIX stream", socket.AF_UNIX, socket.SOCK_STREAM)
want_ok("AF_INET stream", socket.AF_INET, socket.SOCK_STREAM)
want_ok("AF_INET6 datagram", socket.AF_INET6, socket.SOCK_DGRAM)
want_ok("AF_NETLINK route", socket.AF_NETLINK, socket.SOCK_RAW, 0)
want_refused("AF_VSOCK stream", 40, socket.SOCK_STREAM)
want_refused("AF_PACKET raw", 17, socket.SOCK_RAW, 0x0300)
want_refused("AF_ALG", 38, socket.SOCK_SEQPACKET)
want_refused("AF_BLUETOOTH", 31, socket.SOCK_STREAM)
want_refused("AF_UNSPEC", 0, socket.SOCK_STREAM)
want_refused("family 60 (unknown)", 60, socket.SOCK_STREAM)
want_refused("family 200 (unknown)", 200, socket.SOCK_STREAM)
want_refused("AF_NETLINK sock_diag", socket.AF_NETLINK, socket.SOCK_RAW, 4)
want_refused("AF_NETLINK audit", socket.AF_NETLINK, socket.SOCK_RAW, 9)
want_refused("socketpair AF_VSOCK", 40, socket.SOCK_STREAM, pair=True)
sys.exit(3 if bad else 0)
