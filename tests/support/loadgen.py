#!/usr/bin/env python3
"""Continuous HTTP load for cutover tests (python3 standard library only).

    loadgen.py --url URL [--url URL2 ...] --out FILE [--concurrency 4]
               [--duration SECONDS] [--new-connection-every 20] [--timeout 5]

Each of --concurrency worker threads loops over the URLs, sending GET requests with
http.client (timeout --timeout seconds). A worker keeps one keep-alive connection per
host:port and opens a new one after --new-connection-every requests on it (or when the
server closes it), so both connection reuse and new connections are exercised.

It runs for --duration seconds, or until SIGTERM/SIGINT: then the requests in flight
finish, the summary is written a last time and it exits 0. The JSON summary is written to
--out atomically (a temporary file renamed over it) every 0.5 s and at exit:

    {"requests": N,              every attempt, answered or not
     "ok": N,                    2xx answers
     "by_status": {"503": N},    non-2xx answers by status code
     "connection_errors": N,     refused, reset, timed out, closed, bad status line...
     "errors_by_kind": {"ConnectionRefusedError": N, ...},
     "errors_on_reused_connection": N,   of connection_errors: on a kept-alive connection
     "error_samples": ["http://...: ConnectionRefusedError: ...", ...],   at most 10
     "by_body": {"demo-service 1.0.1": N},   first line of every answer's body
     "latency_ms": {"min": .., "mean": .., "max": ..},   answered requests
     "started_at": UNIX, "elapsed_s": S, "finished": false until the last write, ...}

After a connection error a worker pauses 10 ms, so a service that is down is not hammered
by a busy loop; connection_errors therefore counts attempts, not a rate.
"""

import argparse
import http.client
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.parse

WRITE_EVERY = 0.5
ERROR_PAUSE = 0.01
MAX_SAMPLES = 10
MAX_BODY_KEY = 200


class Stats:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.started = time.time()
        self.requests = 0
        self.ok = 0
        self.by_status = {}
        self.connection_errors = 0
        self.errors_by_kind = {}
        self.errors_on_reused = 0
        self.samples = []
        self.by_body = {}
        self.lat_n = 0
        self.lat_sum = 0.0
        self.lat_min = None
        self.lat_max = None

    def answered(self, status, body, seconds):
        first = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")[:MAX_BODY_KEY]
        ms = seconds * 1000.0
        with self.lock:
            self.requests += 1
            if 200 <= status < 300:
                self.ok += 1
            else:
                key = str(status)
                self.by_status[key] = self.by_status.get(key, 0) + 1
            self.by_body[first] = self.by_body.get(first, 0) + 1
            self.lat_n += 1
            self.lat_sum += ms
            self.lat_min = ms if self.lat_min is None else min(self.lat_min, ms)
            self.lat_max = ms if self.lat_max is None else max(self.lat_max, ms)

    def failed(self, url, error, reused):
        kind = type(error).__name__
        with self.lock:
            self.requests += 1
            self.connection_errors += 1
            self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1
            if reused:
                self.errors_on_reused += 1
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append("%s: %s: %s" % (url, kind, error))

    def summary(self, finished):
        with self.lock:
            latency = None
            if self.lat_n:
                latency = {"min": round(self.lat_min, 3),
                           "mean": round(self.lat_sum / self.lat_n, 3),
                           "max": round(self.lat_max, 3)}
            return {
                "urls": self.args.url,
                "concurrency": self.args.concurrency,
                "new_connection_every": self.args.new_connection_every,
                "started_at": self.started,
                "elapsed_s": round(time.time() - self.started, 3),
                "finished": finished,
                "requests": self.requests,
                "ok": self.ok,
                "by_status": dict(self.by_status),
                "connection_errors": self.connection_errors,
                "errors_by_kind": dict(self.errors_by_kind),
                "errors_on_reused_connection": self.errors_on_reused,
                "error_samples": list(self.samples),
                "by_body": dict(self.by_body),
                "latency_ms": latency,
            }


def write_atomically(path, doc):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".loadgen-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Target:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL: " + url)
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.key = (self.scheme, self.host, self.port)


def worker(targets, stats, stop, args):
    connections = {}  # key -> [connection, requests sent on it]

    def drop(key):
        entry = connections.pop(key, None)
        if entry:
            entry[0].close()

    try:
        while not stop.is_set():
            for target in targets:
                if stop.is_set():
                    break
                entry = connections.get(target.key)
                if entry is None:
                    cls = (http.client.HTTPSConnection
                           if target.scheme == "https" else http.client.HTTPConnection)
                    entry = [cls(target.host, target.port, timeout=args.timeout), 0]
                    connections[target.key] = entry
                conn, used = entry
                reused = used > 0
                start = time.monotonic()
                try:
                    conn.request("GET", target.path)
                    response = conn.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as error:
                    stats.failed(target.url, error, reused)
                    drop(target.key)
                    stop.wait(ERROR_PAUSE)
                    continue
                stats.answered(response.status, body, time.monotonic() - start)
                entry[1] += 1
                if response.will_close or entry[1] >= args.new_connection_every:
                    drop(target.key)
    finally:
        for key in list(connections):
            drop(key)


def main(argv):
    p = argparse.ArgumentParser(description="Continuous HTTP load for cutover tests.")
    p.add_argument("--url", action="append", required=True, help="repeat for several URLs")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--duration", type=float, default=None,
                   help="seconds (default: until SIGTERM/SIGINT)")
    p.add_argument("--out", required=True, help="the JSON summary (rewritten every 0.5 s)")
    p.add_argument("--new-connection-every", type=int, default=20,
                   help="requests per keep-alive connection before a new one")
    p.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    args = p.parse_args(argv)
    if args.concurrency < 1 or args.new_connection_every < 1 or args.timeout <= 0:
        p.error("--concurrency, --new-connection-every and --timeout must be positive")
    try:
        targets = [Target(u) for u in args.url]
    except ValueError as e:
        p.error(str(e))

    stats = Stats(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    threads = [threading.Thread(target=worker, args=(targets, stats, stop, args), daemon=True)
               for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    write_atomically(args.out, stats.summary(False))
    while not stop.is_set():
        wait = WRITE_EVERY
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        stop.wait(wait)
        if deadline is not None and time.monotonic() >= deadline:
            stop.set()
        write_atomically(args.out, stats.summary(False))
    # Requests in flight finish (each bounded by --timeout).
    join_deadline = time.monotonic() + args.timeout + 1.0
    for t in threads:
        t.join(max(0.0, join_deadline - time.monotonic()))
    summary = stats.summary(True)
    write_atomically(args.out, summary)
    sys.stderr.write("loadgen: %d requests, %d ok, %d non-2xx, %d connection errors in %.1f s\n" %
                     (summary["requests"], summary["ok"], sum(summary["by_status"].values()),
                      summary["connection_errors"], summary["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
