#!/usr/bin/env python3
"""A stand-in for the controller side that the agent talks to, for black-box tests of
patchwave-agent (the real controller comes with the controller issue):

  POST /v1/enroll        {"name", "token", "csr"} -> {"certificate"}: signs the CSR with
                         the test CA through the openssl CLI; each token works once.
  GET  /artifacts/NAME   files from --artifacts, mutual TLS required, Range supported.

Test switches: --cut-after N closes the first GET of each artifact after N body bytes
(a download cut off mid-way); --ignore-range answers 200 to range requests; --corrupt
flips a byte in the middle of what it serves.
"""
import argparse, http.server, json, os, re, ssl, subprocess, sys, tempfile, threading

parser = argparse.ArgumentParser()
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--ca-key", required=True)
parser.add_argument("--token", action="append", default=[])
parser.add_argument("--artifacts", default=".")
parser.add_argument("--port-file", required=True)
parser.add_argument("--cut-after", type=int, default=0)
parser.add_argument("--ignore-range", action="store_true")
parser.add_argument("--corrupt", action="store_true")
args = parser.parse_args()

tokens = set(args.token)
lock = threading.Lock()
cut_done = set()
log = open(os.path.join(os.path.dirname(args.port_file), "controller-requests.log"), "a")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        code = a[1] if len(a) > 1 else "-"
        log.write("%s %s %s\n" % (self.command, self.path, code)); log.flush()

    def reply(self, status, doc):
        body = (json.dumps(doc) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/v1/enroll":
            return self.reply(404, {"error": {"code": "not_found", "message": self.path}})
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        with lock:
            if request.get("token") not in tokens:
                return self.reply(403, {"error": {"code": "permission",
                                                  "message": "unknown or used enrollment token"}})
            tokens.discard(request["token"])
        name = request["name"]
        with tempfile.TemporaryDirectory() as tmp:
            csr = os.path.join(tmp, "req.csr")
            ext = os.path.join(tmp, "ext.cnf")
            out = os.path.join(tmp, "cert.pem")
            open(csr, "w").write(request["csr"])
            open(ext, "w").write("subjectAltName=DNS:%s,IP:127.0.0.1\n"
                                 "extendedKeyUsage=serverAuth,clientAuth\n"
                                 "basicConstraints=critical,CA:FALSE\n" % name)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", args.ca,
                            "-CAkey", args.ca_key, "-CAcreateserial", "-days", "30",
                            "-extfile", ext, "-out", out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.reply(200, {"certificate": open(out).read()})

    def do_GET(self):
        if not self.path.startswith("/artifacts/"):
            return self.reply(404, {"error": {"code": "not_found", "message": self.path}})
        if not self.connection.getpeercert():
            return self.reply(403, {"error": {"code": "permission",
                                              "message": "a client certificate is required"}})
        name = self.path[len("/artifacts/"):]
        path = os.path.join(args.artifacts, name)
        if "/" in name or not os.path.isfile(path):
            return self.reply(404, {"error": {"code": "not_found", "message": name}})
        size = os.path.getsize(path)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and not args.ignore_range:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Connection", "close")
        self.end_headers()
        limit = None
        with lock:
            if args.cut_after and name not in cut_done:
                cut_done.add(name)
                limit = args.cut_after
        sent = 0
        with open(path, "rb") as f:
            f.seek(start)
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                if args.corrupt and start == 0 and sent == 0 and len(chunk) > 10:
                    chunk = chunk[:10] + bytes([chunk[10] ^ 1]) + chunk[11:]
                if limit is not None and sent + len(chunk) > limit:
                    self.wfile.write(chunk[: limit - sent])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(chunk)
                sent += len(chunk)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(args.cert, args.key)
context.load_verify_locations(args.ca)
context.verify_mode = ssl.CERT_OPTIONAL
class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        log.write("connection error: %s\n" % (sys.exc_info()[1],)); log.flush()


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
