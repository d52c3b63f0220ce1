#!/usr/bin/env python3
"""Slow clients against an HTTPS server (tests/integration/attacks.sh).

Opens --raw TCP connections that never start TLS and --tls connections that complete the
handshake (no client certificate) and then send a request's headers one byte every
--interval seconds, never finishing them. While they are held, it makes --probes normal
requests (with the given client certificate) and times them. Then it keeps trickling until
the server has closed every slow connection, or --hold seconds have passed.

Prints JSON: {"opened": {"raw", "tls"}, "probes": [{"status", "seconds"}...],
"closed": N, "still_open": N, "closed_after": {"min", "max"}}.
"""
import argparse
import http.client
import json
import select
import socket
import ssl
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--raw", type=int, default=100)
    p.add_argument("--tls", type=int, default=100)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--probes", type=int, default=5)
    p.add_argument("--hold", type=float, default=60.0)
    a = p.parse_args()

    anonymous = ssl.create_default_context(cafile=a.ca)
    operator = ssl.create_default_context(cafile=a.ca)
    operator.load_cert_chain(a.cert, a.key)

    slow = []  # [socket, opened_at, bytes still to send]
    request = (b"GET /v1/status HTTP/1.1\r\nHost: controller\r\n" +
               b"X-Slow: " + b"a" * 4000 + b"\r\n")
    for _ in range(a.raw):
        s = socket.create_connection((a.host, a.port), timeout=10)
        s.setblocking(False)
        slow.append([s, time.monotonic(), b""])
    for _ in range(a.tls):
        raw = socket.create_connection((a.host, a.port), timeout=10)
        s = anonymous.wrap_socket(raw, server_hostname=a.host)
        s.setblocking(False)
        slow.append([s, time.monotonic(), request])
    opened = {"raw": a.raw, "tls": a.tls}

    def trickle():
        """One byte on each TLS connection; notes the ones the server closed."""
        for entry in slow:
            s, rest = entry[0], entry[2]
            if s is None:
                continue
            readable, _, _ = select.select([s], [], [], 0)
            closed = False
            if readable:
                try:
                    closed = s.recv(4096) == b""
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    closed = True
            if not closed and rest:
                try:
                    s.send(rest[:1])
                    entry[2] = rest[1:]
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    closed = True
            if closed:
                entry.append(time.monotonic() - entry[1])
                s.close()
                entry[0] = None

    probes = []
    for _ in range(a.probes):
        trickle()
        started = time.monotonic()
        status = 0
        try:
            c = http.client.HTTPSConnection(a.host, a.port, context=operator, timeout=20)
            c.request("GET", "/v1/status")
            status = c.getresponse().status
            c.close()
        except Exception as e:  # noqa: BLE001 - reported, judged by the caller
            print("probe failed:", e, file=sys.stderr)
        probes.append({"status": status, "seconds": round(time.monotonic() - started, 3)})
        time.sleep(a.interval)

    deadline = time.monotonic() + a.hold
    while time.monotonic() < deadline and any(e[0] is not None for e in slow):
        trickle()
        time.sleep(a.interval)
    closed_after = [e[3] for e in slow if e[0] is None]
    still_open = sum(1 for e in slow if e[0] is not None)
    for e in slow:
        if e[0] is not None:
            e[0].close()
    print(json.dumps({
        "opened": opened,
        "probes": probes,
        "closed": len(closed_after),
        "still_open": still_open,
        "closed_after": {"min": round(min(closed_after), 1) if closed_after else None,
                         "max": round(max(closed_after), 1) if closed_after else None},
    }))


if __name__ == "__main__":
    main()
