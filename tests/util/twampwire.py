"""What the scripted TWAMP peers (twampfake.py, abuse.py) share: NTP time and exact reads."""
import struct, time

NTP_OFFSET = 2208988800


def ntp_now():
    """The current time as an 8-octet NTP timestamp."""
    t = time.time()
    return struct.pack("!II", int(t) + NTP_OFFSET, int((t % 1) * 2**32) & 0xFFFFFFFF)


def recv_exact(c, n):
    """n octets from socket c; ConnectionError when the peer closes first."""
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise ConnectionError("peer closed")
        b += d
    return b
