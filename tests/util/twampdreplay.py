#!/usr/bin/env python3
"""A TWAMP server that answers with perfSONAR twampd 5.2.3's own control bytes.

usage: twampdreplay.py PCAP PORTFILE BEHAVIOUR [ARG...]

The server side of the control connection is read from PCAP (a capture of
twping against twampd in open mode, tests/data/interop/owamp-twping-twampd-
open.pcap): Server Greeting, Server-Start, Accept-Session and Start-Ack are
sent as twampd sent them, except that each Accept-Session names the UDP port
of a reflector of this script and carries its own SID (the capture's with the
last 4 octets counted up, so that several sessions differ).  Listens on
127.0.0.1 (a free TCP port, written to PORTFILE).

  ok              accept every Request-TW-Session
  close-at N      close the control connection, unanswered, at the N-th
                  Request-TW-Session of each connection (what twampd does when
                  it has no test port left: 3 test ports, the 4th request)
  refuse N CODE   answer the N-th Request-TW-Session of each connection with
                  Accept = CODE (port and SID zero), and go on

Reflectors answer in the RFC 5357 open layout (41 octets and the padding).
Each line of PORTFILE.log (written as it happens) is one event:
"connection C", "request C N dscp D", "accepted C N port P", "refused C N CODE",
"closed C N", "start C", "stop C nsessions S", "reflected C N K" (at the end).
stdlib only.
"""
import os, signal, socket, struct, sys, threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from twampwire import ntp_now, recv_exact  # noqa: E402

pcap, portfile, behaviour = sys.argv[1], sys.argv[2], sys.argv[3]
args = [int(a) for a in sys.argv[4:]]
lock = threading.Lock()
nconn = 0
reflected = {}


def log(line):
    with lock:
        with open(portfile + ".log", "a") as f:
            f.write(line + "\n")


def server_stream(path):
    """The TCP payload twampd sent (source port = the control port), in order."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, out, ctl_port = 24, b"", None
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue  # IPv4 TCP only
        ihl = (frame[14] & 15) * 4
        tcp = frame[14 + ihl:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:]
        total = struct.unpack("!H", frame[16:18])[0]
        payload = payload[:max(0, total - ihl - (tcp[12] >> 4) * 4)]
        if ctl_port is None and tcp[13] & 0x12 == 0x12:
            ctl_port = sport  # the SYN-ACK comes from the server
        if payload and sport == ctl_port:
            out += payload
    return out


stream = server_stream(pcap)
if len(stream) < 64 + 48 + 48 + 32:
    sys.exit("twampdreplay: %s: only %d octets from the server" % (pcap, len(stream)))
GREETING, SERVER_START = stream[0:64], stream[64:112]
ACCEPT, START_ACK = stream[112:160], stream[160:192]


def reflector(u, key, stop):
    rseq = 0
    u.settimeout(0.2)
    while not stop.is_set():
        try:
            pkt, peer = u.recvfrom(65535)
        except socket.timeout:
            continue
        except OSError:
            return
        t2 = ntp_now()
        if len(pkt) < 14:
            continue
        body = (struct.pack("!I", rseq) + ntp_now() + b"\x00\x01" + b"\0\0" + t2 +
                pkt[0:14] + b"\0\0" + b"\xff")
        if len(pkt) > len(body):
            body += pkt[len(body):]
        rseq += 1
        u.sendto(body, peer)
        with lock:
            reflected[key] = reflected.get(key, 0) + 1


def serve(c, cn):
    stop = threading.Event()
    socks = []
    try:
        c.sendall(GREETING)
        recv_exact(c, 164)                      # Set-Up-Response
        c.sendall(SERVER_START)
        n = 0
        while True:
            msg = recv_exact(c, 32)
            if msg[0] == 5:                     # Request-TW-Session: 112 octets
                msg += recv_exact(c, 80)
                n += 1
                dscp = (struct.unpack("!I", msg[84:88])[0] >> 24) & 0x3F
                log("request %d %d dscp %d" % (cn, n, dscp))
                if behaviour == "close-at" and n == args[0]:
                    log("closed %d %d" % (cn, n))
                    return
                if behaviour == "refuse" and n == args[0]:
                    c.sendall(bytes([args[1]]) + b"\0" * 47)
                    log("refused %d %d %d" % (cn, n, args[1]))
                    continue
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("127.0.0.1", 0))
                socks.append((u, (cn, n)))
                port = u.getsockname()[1]
                sid = ACCEPT[4:16] + struct.pack("!I", (struct.unpack("!I", ACCEPT[16:20])[0] + 97 * cn + n) & 0xFFFFFFFF)
                c.sendall(ACCEPT[0:2] + struct.pack("!H", port) + sid + ACCEPT[20:])
                log("accepted %d %d port %d" % (cn, n, port))
            elif msg[0] == 2:                   # Start-Sessions
                for u, key in socks:
                    threading.Thread(target=reflector, args=(u, key, stop), daemon=True).start()
                c.sendall(START_ACK)
                log("start %d" % cn)
            elif msg[0] == 3:                   # Stop-Sessions
                log("stop %d nsessions %d" % (cn, struct.unpack("!I", msg[4:8])[0]))
            else:
                log("unexpected %d command %d" % (cn, msg[0]))
                return
    except (OSError, ConnectionError):
        pass
    finally:
        stop.set()
        for u, _ in socks:
            u.close()
        try:
            c.close()
        except OSError:
            pass


def main():
    global nconn
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)

    def stop(*_):
        with lock:
            lines = ["reflected %d %d %d" % (k[0], k[1], v) for k, v in sorted(reflected.items())]
        for line in lines:
            log(line)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    open(portfile + ".log", "w").close()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = s.accept()
        nconn += 1
        log("connection %d" % nconn)
        threading.Thread(target=serve, args=(c, nconn), daemon=True).start()


main()
