#!/usr/bin/env python3
"""A stand-in for Slack/Teams/Matrix incoming webhooks, for tests.

Listens on 127.0.0.1 and appends every POSTed body to --out as one line (compact JSON
when the body is JSON), when the request arrives: before --fail-first answers 500 and
before --delay holds the answer back. So a line means "received", not "accepted".

  webhook_receiver.py --out bodies.jsonl [--port 0] [--port-file FILE]
                      [--fail-first N] [--delay SECONDS]

The port (useful with --port 0, a free one) is printed on stdout and, with --port-file,
written to FILE atomically once the server listens. Runs until SIGTERM or SIGINT.
"""

import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="append one line per POST body here")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N",
                        help="answer the first N requests with 500")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before answering each request")
    args = parser.parse_args()

    lock = threading.Lock()
    state = {"requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            try:
                line = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True)
            except ValueError:
                line = json.dumps({"unparsed_body": body})
            with lock:
                state["requests"] += 1
                number = state["requests"]
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
            if args.delay > 0:
                time.sleep(args.delay)
            failing = number <= args.fail_first
            answer = b"failing on purpose\n" if failing else b"ok\n"
            try:
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (a timeout test)
            self.close_connection = True

        def log_message(self, format, *log_args):  # quiet: tests read --out
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        partial = args.port_file + ".part"
        with open(partial, "w", encoding="utf-8") as out:
            out.write(f"{port}\n")
        os.replace(partial, args.port_file)
    print(port, flush=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
