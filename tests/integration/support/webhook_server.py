#!/usr/bin/python3
"""A real HTTP server for webhook tests (Python's http.server) on 127.0.0.1: every POST body
is appended, one JSON document per line, to FILE, and answered 200 (or STATUS).

    webhook_server.py PORT FILE [STATUS]
"""
import http.server
import sys

PORT, FILE = int(sys.argv[1]), sys.argv[2]
STATUS = int(sys.argv[3]) if len(sys.argv) > 3 else 200


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(FILE, "ab") as f:
            f.write(self.headers.get("Content-Type", "").encode() + b"\t" + body.replace(b"\n", b" ") + b"\n")
        self.send_response(STATUS)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
