# Test PKI made with the openssl CLI (source it): the controller's CA and the
# certificates the tests need, valid and hostile.
#   ca.pem/ca.key                 the controller's CA (agents are enrolled by it)
#   controller.pem/.key           the controller: DNS:patchwave-controller, IP:127.0.0.1
#   other-ca.pem, rogue.pem/.key  the same names, from another CA
#   impostor.pem/.key             from the right CA, but named agent-x (not the controller)
make_pki() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    ossl() { openssl "$@" 2>/dev/null >/dev/null; }
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -days 30 -subj "/CN=Patchwave Test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key \
      -out other-ca.pem -days 30 -subj "/CN=Other CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    leaf() {  # NAME CA SUBJECT_CN SAN
      ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
        -subj "/CN=$3"
      printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$4" >"$1.ext"
      ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.pem"
    }
    leaf controller ca patchwave-controller "DNS:patchwave-controller,IP:127.0.0.1"
    leaf rogue other-ca patchwave-controller "DNS:patchwave-controller,IP:127.0.0.1"
    leaf impostor ca agent-x "DNS:agent-x,IP:127.0.0.1"
  )
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
