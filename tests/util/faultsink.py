#!/usr/bin/env python3
"""An HTTP(S) sink that fails on demand, for fault tests.

usage: faultsink.py PORTFILE LOGFILE STATUSFILE [CERTFILE KEYFILE]

Like httpsink.py (127.0.0.1, a free port written to PORTFILE, one JSON line
per request appended to LOGFILE: {"t", "status", "body"}), but the answer to
each request is read from STATUSFILE when the request arrives:

  204, 500, ...   that HTTP status
  429:N           429 with "Retry-After: N"
  hang            no answer: the connection is held while STATUSFILE says
                  hang (the client's timeout should fire first), then closed

Only requests answered 2xx count as delivered.  With CERTFILE and KEYFILE it
speaks HTTPS only.  GET answers like POST, with no body (a configuration
source that hangs or fails).  stdlib only; stops on SIGTERM.
"""
import http.server, json, os, signal, ssl, sys, threading, time

portfile, logfile, statusfile = sys.argv[1:4]
cert = sys.argv[4:6]
lock = threading.Lock()


def current():
    try:
        return open(statusfile).read().strip() or "204"
    except OSError:
        return "204"


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        st = current()
        if st == "hang":
            with lock, open(logfile, "a") as f:
                f.write(json.dumps({"t": time.time(), "status": 0, "body": body}) + "\n")
            while current() == "hang":
                time.sleep(0.1)
            self.close_connection = True
            return
        retry = None
        if st.startswith("429:"):
            st, retry = "429", st[4:]
        code = int(st)
        with lock, open(logfile, "a") as f:
            f.write(json.dumps({"t": time.time(), "status": code, "body": body}) + "\n")
        self.send_response(code)
        if retry:
            self.send_header("Retry-After", retry)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.answer(self.rfile.read(n).decode("utf-8", "replace"))

    def do_GET(self):
        self.answer("")

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
