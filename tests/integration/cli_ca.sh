# The controller CA through the real binary: init (once), operator certificates with
# their role, the controller's certificate, enrollment tokens (audited, hash stored).
source "$(dirname "$0")/lib.sh"

check "ca init" pw ca init --dir ca
check "CA key is 0600" test "$(stat -c %a ca/ca.key)" = 600
refuse "ca init refuses to replace a CA" "a CA exists already" pw ca init --dir ca
check "issue an approver for bw" pw ca issue-operator --dir ca --name alice --role approver:bw --out alice
check "operator key is 0600" test "$(stat -c %a alice.key)" = 600
check "operator certificate chains to the CA" openssl verify -CAfile ca/ca.pem alice.crt
check "role carried in the certificate" bash -c "openssl x509 -in alice.crt -noout -ext subjectAltName | grep -q 'URI:urn:patchwave:role:approver:bw'"
check "operator certificate is for clients only" bash -c "! openssl verify -purpose sslserver -CAfile ca/ca.pem alice.crt"
refuse "an unknown role is refused" "must be release-engineer, approver:REGION or viewer" \
  pw ca issue-operator --dir ca --name m --role admin --out m
check "controller certificate" pw ca issue-controller --dir ca --ip 127.0.0.1 --out controller
check "controller certificate serves TLS for its name" \
  openssl verify -purpose sslserver -CAfile ca/ca.pem -verify_hostname patchwave-controller controller.crt
check "enrollment token" pw ca token --dir ca --db store.db --server bw-r1-0 --ttl 30m
TOKEN=$(cat "$WORK/out")
check "token is 64 hex digits" bash -c "[[ '$TOKEN' =~ ^[0-9a-f]{64}$ ]]"
check "only its hash is stored" bash -c "! sqlite3 store.db 'SELECT * FROM enrollment_tokens' | grep -q '$TOKEN'"
check "the token's issue is audited" bash -c "'$PW_BIN' audit export --db store.db | grep -q enrollment.token"
refuse "a bad server name" "is not valid" pw ca token --dir ca --db store.db --server 'BW 1'
refuse "a CA directory without a CA" "cannot open" pw ca token --dir nowhere --db store.db --server x
for cmd in "ca" "ca init" "ca issue-operator" "ca issue-controller" "ca token"; do
  # shellcheck disable=SC2086
  check "help: $cmd" pw $cmd --help
done
finish
