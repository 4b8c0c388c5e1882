#!/usr/bin/env python3
"""Hostile peers for tests/reflguard.sh (the responder's loop guard, rate limit,
idle control connections).  stdlib only; forging needs root (a raw socket).

usage: reflguard.py COMMAND ARGS...

  forge SRC SPORT DST DPORT N SIZE   N TWAMP-Light/STAMP-sized UDP datagrams of SIZE
                                     octets with a forged source SRC:SPORT (IPv4,
                                     IP_HDRINCL raw socket); prints "sent N"
  flood SRC DST DPORT N SIZE         N datagrams from SRC (forged), source ports
                                     40000.. in turn; prints "sent N"
  legit SRC DST DPORT N PPS          a real sender on SRC: N datagrams at PPS to
                                     DST:DPORT; prints "answered A of N"
  idle PORT N LIMIT                  N control connections that each send
                                     Start-Sessions without requesting a session;
                                     prints the seconds until the server closed
                                     the last of them (-1: one was still open after
                                     LIMIT s)
"""
import socket, struct, sys, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from twampwire import ntp_now, recv_exact, wait_closed  # noqa: E402
# (abuse.py runs its command line when imported: its few lines we need are here)


def setup(port):
    """An unauthenticated control connection up to Server-Start."""
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    recv_exact(c, 64)
    c.sendall(struct.pack("!I", 1) + b"\0" * 160)
    if recv_exact(c, 48)[15] != 0:
        raise ConnectionError("Server-Start refused")
    return c


def test_packet(seq, size):
    p = struct.pack("!I", seq) + ntp_now() + b"\x80\x01"
    return (p + b"\0" * max(0, size - len(p)))[:size]



def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(src, sport, dst, dport, payload):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(s + d + struct.pack("!BBH", 0, 17, ulen) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


def raw():
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    r.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return r


def cmd_forge(src, sport, dst, dport, n, size):
    r = raw()
    for i in range(n):
        r.sendto(datagram(src, sport, dst, dport, test_packet(i, size)), (dst, 0))
    print("sent", n)


def cmd_flood(src, dst, dport, n, size):
    r = raw()
    for i in range(n):
        r.sendto(datagram(src, 40000 + i % 1000, dst, dport, test_packet(i, size)), (dst, 0))
    print("sent", n)


def cmd_legit(src, dst, dport, n, pps):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0))
    u.settimeout(0.001)
    got = 0
    t0 = time.time()
    end = t0 + n / pps + 1.0
    sent = 0
    while time.time() < end:
        if sent < n and time.time() >= t0 + sent / pps:
            u.sendto(test_packet(sent, 100), (dst, dport))
            sent += 1
        try:
            u.recv(65535)
            got += 1
        except socket.timeout:
            pass
    print("answered %d of %d" % (got, n))


def cmd_idle(port, n, limit):
    conns = []
    for _ in range(n):
        c = setup(port)
        c.sendall(bytes([2]) + b"\0" * 31)      # Start-Sessions, no session requested
        recv_exact(c, 32)                       # Start-Ack
        conns.append(c)
    t0 = time.time()
    worst = 0
    for c in conns:
        worst = max(worst, wait_closed(c, t0, limit))
    print("%.2f" % (worst if worst < limit - 0.2 else -1))


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "forge":
        cmd_forge(a[0], int(a[1]), a[2], int(a[3]), int(a[4]), int(a[5]))
    elif cmd == "flood":
        cmd_flood(a[0], a[1], int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "legit":
        cmd_legit(a[0], a[1], int(a[2]), int(a[3]), float(a[4]))
    elif cmd == "idle":
        cmd_idle(int(a[0]), int(a[1]), float(a[2]))
    else:
        sys.exit(__doc__)
