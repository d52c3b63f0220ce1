#!/usr/bin/env python3
"""The measuring side of `scripts/bench patch` (python3 standard library only), the same
for both contenders, Patchwave and the Ansible playbook of this directory.

    measure.py load --url URL [--url URL ...] --rate 25 --out FILE
        Light steady traffic: one thread per URL, --rate GET requests a second each, on a
        kept-alive connection (a new one after an error or when the server closes it).
        Until SIGTERM; then writes a JSON summary to FILE: requests, ok (2xx), by_status
        (non-2xx), connection_errors, error_samples, by_body (first line of the answers).
        Patchwave's canary analysis needs requests on the new servers; the Ansible side
        gets the same load, so both are measured under the same conditions and both
        show whether a request failed during the switch.

    measure.py watch --socket ADMIN_SOCKET --backends B1,B2,.. --per-backend K
                     --out FILE --stop FILE [--ready FILE] [--db STORE] [--every-ms 10]
        Polls HAProxy's `show stat` every --every-ms until FILE --stop exists. The servers
        usable at the start (weight > 0, not MAINT or DRAIN) are the old version; traffic
        is 100 % on the new version at the first answer in which none of them is usable
        any more and every backend has K usable servers that were not (--ready is made
        once the old servers are known). With --db, also the first time each rollout
        region's state (Patchwave's store, rollout_regions) was seen, polled every 20 ms.
        Writes one JSON object to FILE:
            {"switched_at_ms": T or null, "switched_after_ms": T0 (the change came after
             this request was sent), "backends_at_ms": {B: T}, "states": {ROLLOUT:
             {REGION: {STATE: T}}}, "old": [...], "poll": {"samples", "gap_median_ms",
             "gap_max_ms"}}
        Times are epoch milliseconds (time.time()), as `date +%s%N` in the script.

    measure.py wait --db STORE --rollout ID --pid PID [--timeout 600]
        Waits until the Patchwave rollout has ended (or the controller PID is gone);
        prints its state.

    measure.py cpu --pid PID
        utime + stime of the process (all threads), in clock ticks.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse

TERMINAL = ("succeeded", "rolled_back", "aborted", "partially_failed", "failed")


def now_ms():
    return time.time() * 1000.0


# --- load ---------------------------------------------------------------------------

class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.ok = self.connection_errors = 0
        self.by_status, self.by_body, self.samples = {}, {}, []

    def answer(self, status, body):
        with self.lock:
            self.requests += 1
            if 200 <= status < 300:
                self.ok += 1
            else:
                self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
            line = body.split(b"\n", 1)[0].decode("utf-8", "replace")
            self.by_body[line] = self.by_body.get(line, 0) + 1

    def error(self, url, exc):
        with self.lock:
            self.requests += 1
            self.connection_errors += 1
            if len(self.samples) < 10:
                self.samples.append("%s: %s: %s" % (url, type(exc).__name__, exc))

    def summary(self):
        with self.lock:
            return {"requests": self.requests, "ok": self.ok, "by_status": self.by_status,
                    "connection_errors": self.connection_errors,
                    "error_samples": self.samples, "by_body": self.by_body}


def load_worker(url, rate, counts, stop):
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    conn = None
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            counts.answer(r.status, body)
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            counts.error(url, exc)
            if conn is not None:
                conn.close()
            conn = None
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()  # late (a busy machine): no burst to catch up


def load(a):
    counts, stop = Counts(), threading.Event()
    # The handler only notes the signal: Event.set() in a handler can deadlock on the
    # Event's own lock when the signal lands while the main thread holds it.
    signalled = []
    signal.signal(signal.SIGTERM, lambda *_: signalled.append(1))
    signal.signal(signal.SIGINT, lambda *_: signalled.append(1))
    threads = [threading.Thread(target=load_worker, args=(u, a.rate, counts, stop), daemon=True)
               for u in a.url]
    for t in threads:
        t.start()
    while not signalled:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(timeout=6)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(counts.summary(), f)
    os.replace(tmp, a.out)
    return 0


# --- watch --------------------------------------------------------------------------

def show_stat(path):
    """{backend: {server: (weight, status)}} from HAProxy's admin socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(path)
        s.sendall(b"show stat\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return None
    head = lines[0][2:].split(",")
    ix = {name: i for i, name in enumerate(head)}
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) < len(head) or f[ix["svname"]] in ("FRONTEND", "BACKEND"):
            continue
        w = f[ix["weight"]]
        out.setdefault(f[ix["pxname"]], {})[f[ix["svname"]]] = (int(w) if w.isdigit() else 0,
                                                                 f[ix["status"]])
    return out


def usable(entry):
    weight, status = entry
    return weight > 0 and not status.startswith(("MAINT", "DRAIN"))


def watch(a):
    backends = a.backends.split(",")
    snap = None
    for _ in range(200):
        try:
            snap = show_stat(a.socket)
        except OSError:
            snap = None
        if snap is not None:
            break
        time.sleep(0.05)
    if snap is None:
        raise SystemExit("measure.py watch: no answer from " + a.socket)
    old = {(b, s) for b in backends for s, e in snap.get(b, {}).items() if usable(e)}
    if a.ready:
        open(a.ready, "w").close()  # the old servers are known: the clock may start
    db = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=5.0) if a.db else None
    states, seen = {}, {}
    backends_at, switched_at, switched_after = {}, None, None
    gaps, samples, prev_done, prev_sent = [], 0, None, None
    last_db = 0.0
    deadline = time.monotonic() + a.timeout
    while not os.path.exists(a.stop) and time.monotonic() < deadline:
        sent = now_ms()
        if switched_at is None:
            try:
                snap = show_stat(a.socket)
            except OSError:
                snap = None
            done = now_ms()
            if snap is not None:
                samples += 1
                if prev_done is not None:
                    gaps.append(done - prev_done)
                for b in backends:
                    servers = snap.get(b, {})
                    new = [s for s, e in servers.items() if usable(e) and (b, s) not in old]
                    stale = [s for s, e in servers.items() if usable(e) and (b, s) in old]
                    if b not in backends_at and not stale and len(new) >= a.per_backend:
                        backends_at[b] = done
                if len(backends_at) == len(backends):
                    switched_at, switched_after = done, prev_sent
                prev_done, prev_sent = done, sent
        if db is not None and sent - last_db >= 20:
            last_db = sent
            try:
                rows = db.execute("SELECT rollout_id, region, data FROM rollout_regions").fetchall()
            except sqlite3.Error:
                rows = []
            t = now_ms()
            for rollout, region, data in rows:
                state = json.loads(data)["state"]
                if seen.get((rollout, region)) != state:
                    seen[(rollout, region)] = state
                    states.setdefault(rollout, {}).setdefault(region, {}).setdefault(state, t)
        time.sleep(max(0.0, (a.every_ms - (now_ms() - sent)) / 1000.0))
    gaps.sort()
    with open(a.out, "w") as f:
        json.dump({"switched_at_ms": switched_at, "switched_after_ms": switched_after,
                   "backends_at_ms": backends_at, "states": states,
                   "old": sorted("%s/%s" % o for o in old),
                   "poll": {"samples": samples,
                            "gap_median_ms": gaps[len(gaps) // 2] if gaps else None,
                            "gap_max_ms": gaps[-1] if gaps else None}}, f)
    return 0


# --- wait, cpu ----------------------------------------------------------------------

def wait(a):
    db = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=5.0)
    deadline = time.monotonic() + a.timeout
    state = "missing"
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % a.pid):
            state = "the controller (pid %d) has stopped" % a.pid
            break
        row = db.execute("SELECT state FROM rollouts WHERE id = ?", (a.rollout,)).fetchone()
        state = row[0] if row else "missing"
        if state in TERMINAL:
            break
        time.sleep(0.05)
    print(state)
    return 0


def cpu(a):
    with open("/proc/%d/stat" % a.pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    print(int(rest[11]) + int(rest[12]))  # fields 14 (utime) and 15 (stime)
    return 0


def main(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("load")
    x.add_argument("--url", action="append", required=True)
    x.add_argument("--rate", type=float, default=25.0)
    x.add_argument("--out", required=True)
    x = sub.add_parser("watch")
    x.add_argument("--socket", required=True)
    x.add_argument("--backends", required=True)
    x.add_argument("--per-backend", type=int, required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--stop", required=True)
    x.add_argument("--ready")
    x.add_argument("--db")
    x.add_argument("--every-ms", type=float, default=10.0)
    x.add_argument("--timeout", type=float, default=1800.0)
    x = sub.add_parser("wait")
    x.add_argument("--db", required=True)
    x.add_argument("--rollout", required=True)
    x.add_argument("--pid", type=int, required=True)
    x.add_argument("--timeout", type=float, default=600.0)
    x = sub.add_parser("cpu")
    x.add_argument("--pid", type=int, required=True)
    a = p.parse_args(argv)
    return {"load": load, "watch": watch, "wait": wait, "cpu": cpu}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
