"""What the chaos runs watch while a fault is injected: the rollout as the API shows it
(every state a client was told is an acknowledged event), HAProxy's weights through its
admin socket, and a TCP relay between agents and the controller that can cut a download.
"""

import os
import socket
import threading
import time


class RolloutWatcher(threading.Thread):
    """Polls GET /v1/rollouts/ID every 50 ms; keeps every region state it was shown."""

    def __init__(self, world, rid):
        super().__init__(daemon=True)
        self.world, self.rid = world, rid
        self.seen = []  # (region, state) in the order first shown
        self.last = None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            body = self.world.rollout(self.rid)
            if body:
                self.last = body
                for region in body.get("regions", []):
                    key = (region["region"], region["state"])
                    if key not in self.seen:
                        self.seen.append(key)
            time.sleep(0.05)

    def state(self):
        return self.last["state"] if self.last else None

    def region(self):
        return self.last["regions"][0] if self.last and self.last.get("regions") else None

    def wait_phase(self, phases, timeout=120):
        """Waits until the region is in one of `phases` (or has passed them all)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            region = self.region()
            if region and region["state"] in phases:
                return region["state"]
            if self.state() in ("succeeded", "rolled_back", "partially_failed", "aborted"):
                return None
            time.sleep(0.02)
        return None

    def wait_end(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.state() in ("succeeded", "rolled_back", "partially_failed", "aborted"):
                return self.state()
            time.sleep(0.1)
        return None


class WeightWatcher(threading.Thread):
    """Reads `show stat` every 50 ms; remembers when each server last had weight > 0."""

    def __init__(self, socket_path, backend):
        super().__init__(daemon=True)
        self.path, self.backend = socket_path, backend
        self.last_weighted = {}  # server -> unix ms of the last reading with weight > 0
        self.stop = threading.Event()

    def read(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(self.path)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")

    def run(self):
        while not self.stop.is_set():
            try:
                text = self.read()
            except OSError:
                time.sleep(0.05)  # HAProxy restarting
                continue
            now = int(time.time() * 1000)
            header = []
            for line in text.splitlines():
                if line.startswith("# "):
                    header = line[2:].split(",")
                    continue
                fields = line.split(",")
                if not header or len(fields) < len(header) - 1:
                    continue
                row = dict(zip(header, fields))
                if row.get("pxname") != self.backend or row.get("svname") in ("FRONTEND",
                                                                              "BACKEND"):
                    continue
                if row.get("weight", "0") not in ("", "0") and row.get("status") != "MAINT":
                    self.last_weighted[row["svname"]] = now
            time.sleep(0.05)


class CutProxy(threading.Thread):
    """A TCP relay agents reach the controller through (controller.yaml's agent_url). When
    armed with N, the first connection that has carried N bytes towards the agent is closed
    there, mid-body (the agent reads a truncated TLS stream); then it disarms."""

    def __init__(self, target_port):
        super().__init__(daemon=True)
        self.target = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.armed = None
        self.cuts = 0

    def arm(self, after_bytes):
        with self.lock:
            self.armed = after_bytes

    def run(self):
        while True:
            client, _ = self.listener.accept()
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()

    def pipe(self, src, dst, downstream):
        carried = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                carried += len(data)
                if downstream:
                    with self.lock:
                        cut = self.armed is not None and carried >= self.armed
                        if cut:
                            self.armed = None
                            self.cuts += 1
                    if cut:
                        break
        except OSError:
            pass
        finally:
            # shutdown() first: it wakes the other direction's thread blocked in recv()
            # and sends the FIN; close() alone would not while that thread still holds the
            # socket.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def fill_disk(directory, name="chaos-filler"):
    """Writes zeros into DIRECTORY until its file system is full; returns the file."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                pass
    finally:
        os.close(fd)
    return path
