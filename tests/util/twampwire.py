"""What the scripted TWAMP peers (twampfake.py, abuse.py, reflguard.py) share: NTP time, exact
reads, waiting for the server to close."""
import socket, struct, time

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


def wait_closed(c, t0, limit=60):
    """Read c until the peer closes it or `limit` s after t0; the seconds since t0."""
    c.settimeout(max(0.1, limit - (time.time() - t0)))
    try:
        while c.recv(4096):
            pass
    except (ConnectionError, socket.timeout, OSError):
        pass
    return time.time() - t0
