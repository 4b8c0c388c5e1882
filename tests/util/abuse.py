#!/usr/bin/env python3
"""Abusive TWAMP clients (RFC 5357, unauthenticated mode) for the responder's tests.

usage: abuse.py COMMAND ARGS...   (the responder is on 127.0.0.1)

  amp PORT LIGHTPORT        a session with padding 0, then test packets of many sizes to
                            it and to the light reflector; prints one JSON object
                            {"control": {size: [reply sizes]}, "light": {...}}
  sessions PORT N SRC HOLD  one connection from SRC asking for N sessions; prints the
                            Accept values, one line, then holds the connection HOLD s
  slow PORT MODE            a control client that stalls (silent: sends nothing;
                            trickle: the Set-Up-Response one octet every 0.3 s;
                            after-setup: nothing after it; partial: half a
                            Request-TW-Session); prints the seconds until the server
                            closed the connection
  third PORT VICTIM         a session whose Request-TW-Session names VICTIM (an address
                            of this host) as sender address and port; test packets sent
                            from our socket, then from the victim's; prints
                            "own N victim M": reflections we got, and the victim got
  connflood PORT SRC N HOLD N connections from SRC, each reading its greeting and then
                            stalling; prints "opened A greeted G refused R" after HOLD s
stdlib only.
"""
import json, select, socket, struct, sys, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from twampwire import ntp_now, recv_exact, wait_closed  # noqa: E402


def setup(port, src="127.0.0.1"):
    c = socket.socket()
    c.bind((src, 0))
    c.connect(("127.0.0.1", port))
    recv_exact(c, 64)
    c.sendall(struct.pack("!I", 1) + b"\0" * 160)
    ss = recv_exact(c, 48)
    if ss[15] != 0:
        raise ConnectionError("Server-Start Accept %d" % ss[15])
    return c


def request(c, sender_port, padding=0, sender_addr=b"\0\0\0\0"):
    req = (bytes([5, 4, 0, 0]) + struct.pack("!IIHH", 0, 100, sender_port, 0) +
           sender_addr + b"\0" * 12 + b"\0" * 16 + b"\0" * 16 + struct.pack("!I", padding) +
           ntp_now() + struct.pack("!II", 2, 0) + struct.pack("!I", 0) + b"\0" * 8 + b"\0" * 16)
    assert len(req) == 112
    c.sendall(req)
    a = recv_exact(c, 48)
    return a[0], struct.unpack("!H", a[2:4])[0]


def start(c):
    c.sendall(bytes([2]) + b"\0" * 31)
    recv_exact(c, 32)


def test_packet(seq, size):
    p = struct.pack("!I", seq) + ntp_now() + b"\x80\x01"
    return (p + b"\0" * max(0, size - len(p)))[:size]


def replies(u, wait=0.3):
    got = []
    end = time.time() + wait
    while time.time() < end:
        r, _, _ = select.select([u], [], [], max(0, end - time.time()))
        if r:
            got.append(len(u.recv(65535)))
    return got


SIZES = [1, 13, 14, 27, 40, 41, 42, 44, 100, 1400, 9000]


def cmd_amp(port, light):
    out = {"control": {}, "light": {}}
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    c = setup(port)
    acc, rport = request(c, u.getsockname()[1], padding=0)
    if acc != 0:
        raise SystemExit("session refused: %d" % acc)
    start(c)
    for i, n in enumerate(SIZES):
        u.sendto(test_packet(i, n), ("127.0.0.1", rport))
        out["control"][n] = replies(u)
    for i, n in enumerate(SIZES):
        u.sendto(test_packet(i, n), ("127.0.0.1", light))
        out["light"][n] = replies(u)
    print(json.dumps(out))


def cmd_sessions(port, n, src, hold):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0))
    c = setup(port, src)
    codes = []
    for _ in range(n):
        codes.append(request(c, u.getsockname()[1], padding=27)[0])
    print(" ".join(map(str, codes)), flush=True)
    time.sleep(hold)


def cmd_slow(port, mode):
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    recv_exact(c, 64)
    t0 = time.time()
    if mode == "silent":
        pass
    elif mode == "trickle":
        msg = struct.pack("!I", 1) + b"\0" * 160
        c.setblocking(False)
        for i in range(len(msg)):
            try:
                c.send(msg[i:i + 1])
            except (BlockingIOError, OSError):
                break
            r, _, _ = select.select([c], [], [], 0.3)
            if r:
                break          # closed (or answered: then the timeout did not work)
        c.setblocking(True)
    elif mode in ("after-setup", "partial"):
        c.sendall(struct.pack("!I", 1) + b"\0" * 160)
        recv_exact(c, 48)
        t0 = time.time()
        if mode == "partial":
            c.sendall(bytes([5, 4]) + b"\0" * 50)
    print("%.2f" % wait_closed(c, t0))


def cmd_third(port, victim):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    v.bind((victim, 0))
    c = setup(port)
    acc, rport = request(c, v.getsockname()[1], padding=27, sender_addr=socket.inet_aton(victim))
    if acc != 0:
        print("refused %d" % acc)
        return
    start(c)
    own = vict = 0
    for i in range(5):
        u.sendto(test_packet(i, 41), ("127.0.0.1", rport))
    for i in range(5):
        v.sendto(test_packet(100 + i, 41), ("127.0.0.1", rport))
    end = time.time() + 0.5
    while time.time() < end:
        r, _, _ = select.select([u, v], [], [], 0.1)
        for s in r:
            s.recv(65535)
            if s is u:
                own += 1
            else:
                vict += 1
    print("own %d victim %d" % (own, vict))


def cmd_connflood(port, src, n, hold):
    socks = []
    opened = 0
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        opened += 1
        socks.append(s)
    greeted, refused, buf = set(), set(), {}
    end = time.time() + hold
    while time.time() < end:
        live = [s for s in socks if s not in refused]
        r, _, _ = select.select(live, [], [], 0.2) if live else ([], [], time.sleep(0.2))
        for s in r:
            try:
                d = s.recv(64)
            except OSError:
                d = b""
            if d:
                buf[s] = buf.get(s, 0) + len(d)
                if buf[s] >= 64:
                    greeted.add(s)
            else:
                refused.add(s)
    print("opened %d greeted %d refused %d" % (opened, len(greeted), len(refused - greeted)), flush=True)


cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "amp":
    cmd_amp(int(a[0]), int(a[1]))
elif cmd == "sessions":
    cmd_sessions(int(a[0]), int(a[1]), a[2], float(a[3]))
elif cmd == "slow":
    cmd_slow(int(a[0]), a[1])
elif cmd == "third":
    cmd_third(int(a[0]), a[1])
elif cmd == "connflood":
    cmd_connflood(int(a[0]), a[1], int(a[2]), float(a[3]))
else:
    raise SystemExit(__doc__)
