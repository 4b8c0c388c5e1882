#!/usr/bin/env python3
"""Light/STAMP senders and control clients for tests/reflection.sh (how the
responder reflects: Sequence Numbers, DSCP/ECN, SIDs).  stdlib only.

usage: reflsend.py COMMAND ARGS...

  send HOST PORT [options]   test packets from one or more sockets (senders),
                             interleaved, each waiting for its reflection (1 s);
                             prints one JSON object:
                             {"senders": [{"port": P, "sent": N, "replies":
                               [{"sseq": S, "rseq": R, "len": L, "tos": T,
                                 "ssid": I}]}]}
      --sender SEQ[:SSID]    a sender whose Sequence Numbers start at SEQ
                             (repeatable; SSID for --stamp, default 1)
      --count N              packets per sender (default 10)
      --size N               TWAMP Light packet size (default 41; 44 for --stamp)
      --stamp                STAMP packets (44 octets, SSID at octet 14)
      --tos T                TOS / traffic class octet of the packets (default 0)
      --interval S           pause between rounds (default 0)
  sids PORT N                N control connections to 127.0.0.1:PORT, each asking
                             for one session; prints each Accept-Session SID (hex),
                             one per line
"""
import json, select, socket, struct, sys, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from twampwire import ntp_now, recv_exact  # noqa: E402

IP_TOS, IP_RECVTOS = 1, 13
IPV6_RECVTCLASS, IPV6_TCLASS = 66, 67


def sender_socket(host, tos):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        u.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, tos)
        u.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
        u.bind(("::1" if host == "::1" else "::", 0))
    else:
        u.setsockopt(socket.IPPROTO_IP, IP_TOS, tos)
        u.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
        u.bind(("127.0.0.1" if host.startswith("127.") else "0.0.0.0", 0))
    return u


def packet(seq, size, stamp, ssid):
    p = struct.pack("!I", seq) + ntp_now() + b"\x00\x01"
    if stamp:
        p += struct.pack("!H", ssid)
        size = max(size, 44)
    return (p + b"\0" * max(0, size - len(p)))[:size]


def recv_reply(u, wait):
    end = time.time() + wait
    while True:
        left = end - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([u], [], [], left)
        if not r:
            return None
        data, anc, _, _ = u.recvmsg(65535, 256)
        tos = -1
        for level, typ, val in anc:
            if (level, typ) in ((socket.IPPROTO_IP, IP_TOS), (socket.IPPROTO_IPV6, IPV6_TCLASS)):
                tos = val[0] if len(val) == 1 else struct.unpack("i", val[:4])[0]
        return data, tos


def cmd_send(args):
    host, port = args[0], int(args[1])
    senders, count, size, stamp, tos, interval = [], 10, None, False, 0, 0.0
    i = 2
    while i < len(args):
        a = args[i]
        if a == "--sender":
            seq, _, ssid = args[i + 1].partition(":")
            senders.append((int(seq), int(ssid or 1)))
            i += 2
        elif a == "--count":
            count = int(args[i + 1]); i += 2
        elif a == "--size":
            size = int(args[i + 1]); i += 2
        elif a == "--stamp":
            stamp = True; i += 1
        elif a == "--tos":
            tos = int(args[i + 1], 0); i += 2
        elif a == "--interval":
            interval = float(args[i + 1]); i += 2
        else:
            raise SystemExit("reflsend: unknown option " + a)
    if size is None:
        size = 44 if stamp else 41
    socks = [sender_socket(host, tos) for _ in senders]
    out = [{"port": s.getsockname()[1], "sent": 0, "replies": []} for s in socks]
    for k in range(count):
        for j, (start, ssid) in enumerate(senders):
            seq = (start + k) & 0xFFFFFFFF
            socks[j].sendto(packet(seq, size, stamp, ssid), (host, port))
            out[j]["sent"] += 1
            got = recv_reply(socks[j], 1.0)
            if got:
                d, t = got
                out[j]["replies"].append({
                    "sseq": struct.unpack("!I", d[24:28])[0] if len(d) >= 28 else -1,
                    "rseq": struct.unpack("!I", d[0:4])[0], "len": len(d), "tos": t,
                    "ssid": struct.unpack("!H", d[14:16])[0] if len(d) >= 16 else -1})
        if interval:
            time.sleep(interval)
    print(json.dumps({"senders": out}))


def cmd_sids(port, n):
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        recv_exact(c, 64)
        c.sendall(struct.pack("!I", 1) + b"\0" * 160)
        if recv_exact(c, 48)[15] != 0:
            raise SystemExit("Server-Start refused")
        req = (bytes([5, 4, 0, 0]) + struct.pack("!IIHH", 0, 10, 40000, 0) +
               b"\x7f\0\0\x01" + b"\0" * 12 + b"\x7f\0\0\x01" + b"\0" * 12 + b"\0" * 16 +
               struct.pack("!I", 27) + ntp_now() + struct.pack("!II", 2, 0) +
               struct.pack("!I", 0) + b"\0" * 8 + b"\0" * 16)
        assert len(req) == 112
        c.sendall(req)
        a = recv_exact(c, 48)
        if a[0] != 0:
            raise SystemExit("Accept-Session Accept %d" % a[0])
        print(a[4:20].hex(), flush=True)
        c.close()


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "send":
        cmd_send(sys.argv[2:])
    elif sys.argv[1] == "sids":
        cmd_sids(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
