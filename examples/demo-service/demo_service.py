#!/usr/bin/env python3
"""The demo service of Patchwave's demo and tests (python3 standard library only).

examples/demo-service/package.sh packs it into release tarballs: 1.0.0 (the
"vulnerable" one), 1.0.1 (the fix) and 1.0.2 (broken: it answers 5xx).

    demo_service.py --host H --port P --version V [--mode ok|fail-health|error-5xx|slow]
                    [--verbose]

Each option falls back to an environment variable the agent sets: --host to HOST (then
127.0.0.1), --port to PORT, --version to PATCHWAVE_VERSION, --mode to DEMO_MODE (then
"ok"). It answers HTTP/1.1 with Content-Length (keep-alive allowed):

    GET /healthz  200 "ok"                      (503 "unhealthy" in fail-health mode)
    GET /version  200 {"app": "demo-service", "version": V, "mode": MODE}
    GET /         200 "demo-service V\\n"        (500 in error-5xx mode; slow mode sleeps
                                                 0.3 s before answering)
    other paths   404

On SIGTERM (or SIGINT) it stops accepting connections, lets the requests in flight finish
(at most 5 s), and exits 0. Connections kept alive get "Connection: close" on their next
answer once it is stopping. Quiet by default: one line on stdout when it listens; with
--verbose one line per request on stderr.
"""

import argparse
import http.server
import os
import signal
import socket
import sys
import threading
import time

MODES = ("ok", "fail-health", "error-5xx", "slow")
DRAIN_SECONDS = 5.0
SLOW_SECONDS = 0.3


class InFlight:
    """Counts requests between their parsing and their answer."""

    def __init__(self):
        self.count = 0
        self.cond = threading.Condition()

    def __enter__(self):
        with self.cond:
            self.count += 1

    def __exit__(self, *exc):
        with self.cond:
            self.count -= 1
            self.cond.notify_all()

    def wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle kept-alive connection is closed after this
    # Headers and body are two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def version_string(self):
        return "demo-service"

    def do_GET(self):
        server = self.server
        with server.in_flight:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                if server.mode == "fail-health":
                    self.answer(503, "unhealthy\n")
                else:
                    self.answer(200, "ok\n")
            elif path == "/version":
                self.answer(200, '{"app": "demo-service", "version": "%s", "mode": "%s"}\n' %
                            (server.version, server.mode), "application/json")
            elif path == "/":
                if server.mode == "slow":
                    time.sleep(SLOW_SECONDS)
                if server.mode == "error-5xx":
                    self.answer(500, "error from demo-service %s\n" % server.version)
                else:
                    self.answer(200, "demo-service %s\n" % server.version)
            else:
                self.answer(404, "not found\n")

    def answer(self, status, text, content_type="text/plain; charset=utf-8"):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.server.stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_args(argv):
    env = os.environ
    p = argparse.ArgumentParser(description="The demo service packaged inside test releases.")
    p.add_argument("--host", default=env.get("HOST") or "127.0.0.1")
    p.add_argument("--port", type=int, default=int(env["PORT"]) if env.get("PORT") else None)
    p.add_argument("--version", default=env.get("PATCHWAVE_VERSION"))
    p.add_argument("--mode", choices=MODES, default=env.get("DEMO_MODE") or "ok")
    p.add_argument("--verbose", action="store_true", help="one line per request on stderr")
    args = p.parse_args(argv)
    if args.port is None:
        p.error("--port (or PORT) is required")
    if not args.version:
        p.error("--version (or PATCHWAVE_VERSION) is required")
    if args.mode not in MODES:
        p.error("DEMO_MODE must be one of " + ", ".join(MODES))
    return args


def main(argv):
    args = parse_args(argv)
    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    server = Server((args.host, args.port), Handler)
    server.mode, server.version, server.verbose = args.mode, args.version, args.verbose
    server.in_flight = InFlight()
    server.stopping = threading.Event()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    loop.start()
    print("demo-service %s listening on %s:%d (mode %s)" % (args.version, args.host, args.port,
                                                             args.mode), flush=True)
    while not stop.wait(1.0):
        pass
    server.stopping.set()
    server.shutdown()  # the accept loop ends
    loop.join()
    server.server_close()  # the listening socket is closed: new connections are refused
    drained = server.in_flight.wait_idle(DRAIN_SECONDS)
    if args.verbose or not drained:
        sys.stderr.write("demo-service: stopped (%s)\n" %
                         ("drained" if drained else "requests still in flight after 5 s"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
