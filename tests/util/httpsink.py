#!/usr/bin/env python3
"""A local HTTP sink standing in for Telegraf's http_listener_v2 in tests.

usage: httpsink.py PORTFILE LOGFILE [STATUSFILE]

Listens on 127.0.0.1 (a free port, written to PORTFILE), answers every POST
with the status written in STATUSFILE (default 204), and appends one JSON
line per request to LOGFILE: {"path", "auth", "ctype", "status", "body"}.
Only requests answered 2xx count as delivered.  Stops on SIGTERM.
"""
import http.server, json, os, signal, sys, threading

portfile, logfile = sys.argv[1], sys.argv[2]
statusfile = sys.argv[3] if len(sys.argv) > 3 else None
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        status = 204
        if statusfile and os.path.exists(statusfile):
            try:
                status = int(open(statusfile).read().strip() or "204")
            except ValueError:
                pass
        with lock, open(logfile, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"),
                                "ctype": self.headers.get("Content-Type"), "status": status,
                                "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
