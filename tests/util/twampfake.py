#!/usr/bin/env python3
"""A misbehaving TWAMP server (RFC 5357, unauthenticated mode) for fault tests.

usage: twampfake.py PORTFILE BEHAVIOUR [ARG]

Listens on 127.0.0.1 (a free TCP port, written to PORTFILE) and serves every
connection in a thread with one scripted fault.  The UDP reflector of each
session listens on a free port of 127.0.0.1.

  rst-after-accept       Accept-Session, then a TCP reset (SO_LINGER 0)
  stop-after N           reflect the first N test packets, then nothing
  garbage                answer each test packet with random octets of random length
  undersized             answer each test packet with 10 octets
  oversized              answer each test packet with 9100 octets (a valid header)
  flood N                answer the first test packet with N reflections of
                         sequence numbers never sent, then reflect properly
  flood-on               from the first test packet on, flood the client with
                         reflections of a sequence number never sent, without pause,
                         until the session ends (reflecting properly meanwhile)
  trickle STEP           at control step STEP (greeting, server-start, accept,
                         start-ack) send one octet a second, for ever
  stall STEP             at control step STEP send nothing, for ever
  ok                     a well-behaved reflector (for comparison)

Counters go to PORTFILE.log at exit (SIGTERM): "connections N reflected N".
stdlib only.
"""
import os, random, signal, socket, struct, sys, threading, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from twampwire import ntp_now, recv_exact  # noqa: E402

portfile, behaviour = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
counts = {"connections": 0, "reflected": 0}
lock = threading.Lock()


def slow_send(c, step, msg):
    """Send msg, unless this is the step to misbehave at."""
    if behaviour == "stall" and arg == step:
        while True:
            time.sleep(1)
    if behaviour == "trickle" and arg == step:
        for i in range(len(msg)):
            c.sendall(msg[i:i + 1])
            time.sleep(1)
        while True:  # the client should have given up long before
            time.sleep(1)
    c.sendall(msg)


def reflector(u, stop):
    rseq = 0
    seen = 0
    u.settimeout(0.2)
    while not stop.is_set():
        try:
            pkt, peer = u.recvfrom(65535)
        except socket.timeout:
            continue
        except OSError:
            return
        t2 = ntp_now()
        seen += 1
        if len(pkt) < 14:
            continue
        if behaviour == "stop-after" and seen > int(arg):
            continue
        if behaviour == "garbage":
            u.sendto(os.urandom(random.randint(1, 1500)), peer)
            continue
        if behaviour == "undersized":
            u.sendto(pkt[:10], peer)
            continue
        body = (struct.pack("!I", rseq) + ntp_now() + b"\x80\x01" + b"\0\0" + t2 +
                pkt[0:4] + pkt[4:12] + pkt[12:14] + b"\0\0" + b"\xff")
        rseq += 1
        if behaviour == "oversized":
            body += b"\0" * (9100 - len(body))
        elif len(pkt) > len(body):
            body += pkt[len(body):]
        if behaviour == "flood-on" and seen == 1:
            def flood_on(fake, peer):
                while not stop.is_set():
                    try:
                        u.sendto(fake, peer)
                    except OSError:
                        pass
            fake = struct.pack("!I", 0x7fff0000) + body[4:24] + struct.pack("!I", 0x7fff0000) + body[28:]
            threading.Thread(target=flood_on, args=(fake, peer), daemon=True).start()
        if behaviour == "flood" and seen == 1:
            for i in range(int(arg)):
                fake = struct.pack("!I", 0x7fff0000 + i) + body[4:24] + struct.pack("!I", 0x7fff0000 + i) + body[28:]
                try:
                    u.sendto(fake, peer)
                except OSError:
                    pass
        u.sendto(body, peer)
        with lock:
            counts["reflected"] += 1


def serve(c):
    stop = threading.Event()
    u = None
    try:
        greeting = b"\0" * 12 + struct.pack("!I", 1) + os.urandom(32) + struct.pack("!I", 1024) + b"\0" * 12
        slow_send(c, "greeting", greeting)
        recv_exact(c, 164)                      # Set-Up-Response
        slow_send(c, "server-start", b"\0" * 15 + b"\0" + b"\0" * 16 + ntp_now() + b"\0" * 8)
        req = recv_exact(c, 112)                # Request-TW-Session
        if req[0] != 5:
            return
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        sid = socket.inet_aton("127.0.0.1") + ntp_now() + os.urandom(4)
        slow_send(c, "accept", b"\0\0" + struct.pack("!H", port) + sid + b"\0" * 28)
        if behaviour == "rst-after-accept":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            return
        recv_exact(c, 32)                       # Start-Sessions
        threading.Thread(target=reflector, args=(u, stop), daemon=True).start()
        slow_send(c, "start-ack", b"\0" * 32)
        while True:                             # Stop-Sessions, or the client goes away
            d = c.recv(32)
            if not d:
                break
    except (OSError, ConnectionError):
        pass
    finally:
        stop.set()
        time.sleep(0.3)
        if u:
            u.close()
        try:
            c.close()
        except OSError:
            pass


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)

    def stop(*_):
        with open(portfile + ".log", "w") as f:
            f.write("connections %d reflected %d\n" % (counts["connections"], counts["reflected"]))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = s.accept()
        with lock:
            counts["connections"] += 1
        threading.Thread(target=serve, args=(c,), daemon=True).start()


main()
