#include "common/crypto/x509.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <catch2/catch.hpp>

#include "common/crypto/keys.hpp"
#include "tests/support/temp_dir.hpp"

using pw::Errc;
namespace x509 = pw::crypto::x509;

namespace {

constexpr std::int64_t kDay = 24 * 3600;

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

template <typename T>
T must(pw::Result<T> result) {
  if (!result.ok()) FAIL(result.error().to_string());
  return std::move(result).value();
}

x509::CertificateAuthority make_ca(const std::string& name = "Patchwave CA") {
  return must(x509::CertificateAuthority::create(name, 365 * kDay));
}

bool is_hex(const std::string& text, std::size_t size) {
  return text.size() == size && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The DER inside a single-block PEM text, and back.
std::vector<unsigned char> pem_body(const std::string& pem) {
  std::size_t start = pem.find('\n') + 1;
  std::size_t end = pem.find("-----END");
  std::string base64;
  for (char c : pem.substr(start, end - start)) {
    if (c != '\n') base64 += c;
  }
  std::vector<unsigned char> der(base64.size());
  int size = EVP_DecodeBlock(der.data(), reinterpret_cast<const unsigned char*>(base64.data()),
                             static_cast<int>(base64.size()));
  REQUIRE(size > 0);
  std::size_t padding = base64.size() - base64.find_last_not_of('=') - 1;
  der.resize(static_cast<std::size_t>(size) - padding);
  return der;
}

std::string to_pem(const std::vector<unsigned char>& der, const std::string& label) {
  std::string base64(4 * ((der.size() + 2) / 3) + 1, '\0');
  int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()), der.data(),
                             static_cast<int>(der.size()));
  base64.resize(static_cast<std::size_t>(size));
  std::string pem = "-----BEGIN " + label + "-----\n";
  for (std::size_t i = 0; i < base64.size(); i += 64) pem += base64.substr(i, 64) + "\n";
  return pem + "-----END " + label + "-----\n";
}

// Replaces the first occurrence of `from` in the DER by `to` (same length).
std::string patch_der(const std::string& pem, const std::string& from, const std::string& to,
                      const std::string& label) {
  std::vector<unsigned char> der = pem_body(pem);
  std::string bytes(der.begin(), der.end());
  std::size_t at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, from.size(), to);
  return to_pem(std::vector<unsigned char>(bytes.begin(), bytes.end()), label);
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  ::pclose(pipe);
  return out;
}

int shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

std::string quote(const std::string& path) { return "'" + path + "'"; }

struct Agent {
  std::string key;
  std::string csr;
};

Agent make_agent(const x509::Names& names) {
  Agent agent;
  agent.key = must(x509::generate_private_key_pem());
  agent.csr = must(x509::make_csr(agent.key, names));
  return agent;
}

}  // namespace

TEST_CASE("a generated key is a PKCS#8 P-256 key", "[x509]") {
  std::string pem = must(x509::generate_private_key_pem());
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
  auto key = pw::crypto::PrivateKey::from_pem(pem);
  REQUIRE(key.ok());
  CHECK(key->type() == pw::crypto::KeyType::ecdsa_p256);
  CHECK(must(x509::generate_private_key_pem()) != pem);
}

TEST_CASE("a CSR reads back the names and the key it was made with", "[x509][csr]") {
  x509::Names names{
      "agent-1", {"agent-1.local", "agent-1.example.com"}, {"10.0.0.5", "2001:db8::1"}};
  Agent agent = make_agent(names);
  CHECK(agent.csr.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0) == 0);
  x509::CsrInfo info = must(x509::read_csr(agent.csr));
  CHECK(info.names.common_name == "agent-1");
  CHECK(info.names.dns == names.dns);
  CHECK(info.names.ips == names.ips);
  CHECK(is_hex(info.public_key_sha256, 64));

  SECTION("a CSR without alternative names has none") {
    x509::CsrInfo bare = must(x509::read_csr(must(x509::make_csr(agent.key, {"bare", {}, {}}))));
    CHECK(bare.names.common_name == "bare");
    CHECK(bare.names.dns.empty());
    CHECK(bare.names.ips.empty());
    CHECK(bare.public_key_sha256 == info.public_key_sha256);
  }
  SECTION("an Ed25519 key makes a CSR too") {
    auto ed = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
    REQUIRE(ed.ok());
    x509::CsrInfo ed_info = must(x509::read_csr(must(x509::make_csr(ed->to_pem(), names))));
    CHECK(ed_info.names.common_name == "agent-1");
    CHECK(ed_info.public_key_sha256 != info.public_key_sha256);
  }
}

TEST_CASE("make_csr refuses unusable names", "[x509][csr]") {
  std::string key = must(x509::generate_private_key_pem());
  auto error_of = [&key](const x509::Names& names) {
    auto result = x509::make_csr(key, names);
    REQUIRE_FALSE(result.ok());
    return result.error();
  };
  auto e = error_of({"", {}, {}});
  CHECK(e.code == Errc::invalid_argument);
  CHECK_THAT(e.message, Catch::Contains("common name"));
  for (std::string ip : {"10.0.0.256", "1.2.3", "::g", "localhost", " 10.0.0.1", ""}) {
    e = error_of({"agent", {}, {ip}});
    CHECK(e.code == Errc::invalid_argument);
    CHECK_THAT(e.message, Catch::Contains("'" + ip + "'"));
  }
  e = error_of({"agent", {"bad name"}, {}});
  CHECK(e.code == Errc::invalid_argument);
  CHECK_THAT(e.message, Catch::Contains("'bad name'"));
  CHECK(error_of({std::string(65, 'a'), {}, {}}).code == Errc::invalid_argument);
  CHECK(x509::make_csr(key, {std::string(64, 'a'), {}, {}}).ok());

  auto garbage = x509::make_csr("not a key", {"agent", {}, {}});
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::parse);
}

TEST_CASE("a tampered CSR fails read_csr", "[x509][csr]") {
  Agent agent = make_agent({"agent-1", {"agent-1.local"}, {}});
  REQUIRE(x509::read_csr(agent.csr).ok());

  SECTION("a changed subject breaks the self-signature") {
    std::string forged = patch_der(agent.csr, "agent-1", "agent-2", "CERTIFICATE REQUEST");
    auto result = x509::read_csr(forged);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::signature);
    CHECK_THAT(result.error().message, Catch::StartsWith("csr: self-signature does not verify"));
  }
  SECTION("a changed requested name breaks the self-signature") {
    std::string forged =
        patch_der(agent.csr, "agent-1.local", "agent-9.local", "CERTIFICATE REQUEST");
    auto result = x509::read_csr(forged);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::signature);
  }
  SECTION("a changed signature byte breaks it") {
    std::vector<unsigned char> der = pem_body(agent.csr);
    der.back() ^= 0x01;
    auto result = x509::read_csr(to_pem(der, "CERTIFICATE REQUEST"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::signature);
  }
  SECTION("any flipped base64 character in the signature fails") {
    std::size_t end = agent.csr.find("-----END");
    for (std::size_t i = end - 40; i < end - 4; ++i) {
      std::string tampered = agent.csr;
      if (tampered[i] == '\n') continue;
      tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
      INFO("position " << i);
      CHECK_FALSE(x509::read_csr(tampered).ok());
    }
  }
}

TEST_CASE("read_csr refuses weak or unknown keys and oversized input", "[x509][csr]") {
  pw::test::TempDir dir;
  SECTION("RSA 1024") {
    REQUIRE(shell("openssl req -new -newkey rsa:1024 -nodes -subj /CN=weak -keyout " +
                  quote(dir / "k.pem") + " -out " + quote(dir / "csr.pem")) == 0);
    auto result = x509::read_csr(pw::test::read_file(dir / "csr.pem"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::unsupported);
    CHECK_THAT(result.error().message, Catch::Contains("1024"));
  }
  SECTION("RSA 2048 is accepted") {
    REQUIRE(shell("openssl req -new -newkey rsa:2048 -nodes -subj /CN=rsa -keyout " +
                  quote(dir / "k.pem") + " -out " + quote(dir / "csr.pem")) == 0);
    CHECK(must(x509::read_csr(pw::test::read_file(dir / "csr.pem"))).names.common_name == "rsa");
  }
  SECTION("P-384") {
    REQUIRE(shell("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes "
                  "-subj /CN=p384 -keyout " +
                  quote(dir / "k.pem") + " -out " + quote(dir / "csr.pem")) == 0);
    auto result = x509::read_csr(pw::test::read_file(dir / "csr.pem"));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::unsupported);
    CHECK_THAT(result.error().message, Catch::Contains("P-256"));
  }
  SECTION("more than 16 KiB") {
    Agent agent = make_agent({"agent", {}, {}});
    auto result = x509::read_csr(agent.csr + std::string(17 * 1024, '\n'));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::limit);
  }
}

TEST_CASE("the CA names the certificate, not the CSR", "[x509][ca]") {
  x509::CertificateAuthority ca = make_ca();
  Agent agent = make_agent({"controller", {"controller.example"}, {"10.9.9.9"}});
  x509::IssueOptions options;
  options.names = {"agent-1", {"agent-1.internal"}, {"192.0.2.7", "2001:db8::7"}};
  options.validity_seconds = 7 * kDay;
  std::int64_t before = now();
  std::string cert = must(ca.issue(agent.csr, options));
  std::int64_t after = now();

  x509::CertInfo info = must(x509::read_certificate(cert));
  CHECK(info.names.common_name == "agent-1");
  CHECK(info.names.dns == options.names.dns);
  CHECK(info.names.ips == options.names.ips);
  CHECK(info.issuer_common_name == "Patchwave CA");
  CHECK_FALSE(info.is_ca);
  CHECK(info.not_before >= before - 60);
  CHECK(info.not_before <= after - 60);
  CHECK(info.not_after >= before + 7 * kDay);
  CHECK(info.not_after <= after + 7 * kDay);
  CHECK(is_hex(info.sha256_fingerprint, 64));
  CHECK(is_hex(info.serial_hex, 32));
  CHECK(info.public_key_sha256 == must(x509::read_csr(agent.csr)).public_key_sha256);
  CHECK(must(x509::key_matches_certificate(agent.key, cert)));

  SECTION("the fingerprint from the PEM alone, and a second read, agree with the first") {
    CHECK(must(x509::certificate_sha256(cert)) == info.sha256_fingerprint);
    x509::CertInfo again = must(x509::read_certificate(cert));  // remembered
    CHECK(again.sha256_fingerprint == info.sha256_fingerprint);
    CHECK(again.names.common_name == "agent-1");
    CHECK(again.serial_hex == info.serial_hex);
    auto not_cert = x509::certificate_sha256(agent.csr);
    REQUIRE_FALSE(not_cert.ok());
    CHECK(not_cert.error().to_string().find("not a CERTIFICATE") != std::string::npos);
    CHECK_FALSE(x509::certificate_sha256("garbage").ok());
  }
  SECTION("serials differ between certificates") {
    x509::CertInfo second = must(x509::read_certificate(must(ca.issue(agent.csr, options))));
    CHECK(second.serial_hex != info.serial_hex);
    CHECK(second.sha256_fingerprint != info.sha256_fingerprint);
  }
  SECTION("an Ed25519 agent key is certified too") {
    auto ed = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
    REQUIRE(ed.ok());
    std::string ed_cert =
        must(ca.issue(must(x509::make_csr(ed->to_pem(), {"ed", {}, {}})), options));
    CHECK(x509::verify_certificate(ed_cert, ca.certificate_pem()).ok());
    CHECK(must(x509::key_matches_certificate(ed->to_pem(), ed_cert)));
  }
  SECTION("validity never outlasts the CA") {
    auto short_ca = x509::CertificateAuthority::create("Short CA", 3600);
    REQUIRE(short_ca.ok());
    x509::CertInfo ca_info = must(x509::read_certificate(short_ca->certificate_pem()));
    x509::CertInfo leaf = must(x509::read_certificate(must(short_ca->issue(agent.csr, options))));
    CHECK(leaf.not_after == ca_info.not_after);
  }
}

TEST_CASE("issue refuses bad CSRs and options", "[x509][ca]") {
  x509::CertificateAuthority ca = make_ca();
  Agent agent = make_agent({"agent-1", {}, {}});
  x509::IssueOptions options;
  options.names = {"agent-1", {}, {}};

  std::string forged = patch_der(agent.csr, "agent-1", "agent-2", "CERTIFICATE REQUEST");
  auto tampered = ca.issue(forged, options);
  REQUIRE_FALSE(tampered.ok());
  CHECK(tampered.error().code == Errc::signature);

  x509::IssueOptions bad = options;
  bad.names.common_name.clear();
  CHECK(ca.issue(agent.csr, bad).error().code == Errc::invalid_argument);
  bad = options;
  bad.names.ips = {"300.1.1.1"};
  auto bad_ip = ca.issue(agent.csr, bad);
  REQUIRE_FALSE(bad_ip.ok());
  CHECK(bad_ip.error().code == Errc::invalid_argument);
  CHECK_THAT(bad_ip.error().message, Catch::Contains("300.1.1.1"));
  bad = options;
  bad.server_auth = bad.client_auth = false;
  CHECK(ca.issue(agent.csr, bad).error().code == Errc::invalid_argument);
  bad = options;
  bad.validity_seconds = 0;
  CHECK(ca.issue(agent.csr, bad).error().code == Errc::invalid_argument);
  CHECK(ca.issue("garbage", options).error().code == Errc::parse);
}

TEST_CASE("a certificate verifies against its CA and not against another", "[x509][verify]") {
  x509::CertificateAuthority ca = make_ca();
  x509::CertificateAuthority other = make_ca("Patchwave CA");  // same name, other key
  Agent agent = make_agent({"agent-1", {}, {}});
  x509::IssueOptions options;
  options.names = {"agent-1", {}, {}};
  std::string cert = must(ca.issue(agent.csr, options));

  CHECK(x509::verify_certificate(cert, ca.certificate_pem()).ok());
  auto wrong = x509::verify_certificate(cert, other.certificate_pem());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::signature);
  CHECK_THAT(wrong.error().message, Catch::StartsWith("certificate: "));

  SECTION("a bundle holding the right CA verifies") {
    CHECK(x509::verify_certificate(cert, other.certificate_pem() + ca.certificate_pem()).ok());
  }
  SECTION("time is checked") {
    auto late = x509::verify_certificate(cert, ca.certificate_pem(), now() + 60 * kDay);
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().code == Errc::signature);
    CHECK_THAT(late.error().message, Catch::Contains("expired"));
    auto early = x509::verify_certificate(cert, ca.certificate_pem(), now() - kDay);
    REQUIRE_FALSE(early.ok());
    CHECK_THAT(early.error().message, Catch::Contains("not yet valid"));
    CHECK(x509::verify_certificate(cert, ca.certificate_pem(), now() + kDay).ok());
  }
  SECTION("a leaf cannot act as a CA") {
    Agent second = make_agent({"agent-2", {}, {}});
    std::string cert2 = must(ca.issue(second.csr, options));
    CHECK_FALSE(x509::verify_certificate(cert2, cert).ok());
  }
  SECTION("a CA certificate is its own trust anchor") {
    CHECK(x509::verify_certificate(ca.certificate_pem(), ca.certificate_pem()).ok());
    CHECK_FALSE(x509::verify_certificate(ca.certificate_pem(), other.certificate_pem()).ok());
  }
}

TEST_CASE("CertInfo describes a CA certificate", "[x509][ca]") {
  std::int64_t before = now();
  x509::CertificateAuthority ca = make_ca("Fleet Root");
  x509::CertInfo info = must(x509::read_certificate(ca.certificate_pem()));
  CHECK(info.is_ca);
  CHECK(info.names.common_name == "Fleet Root");
  CHECK(info.issuer_common_name == "Fleet Root");
  CHECK(info.names.dns.empty());
  CHECK(info.not_before >= before - 60);
  CHECK(info.not_after >= before + 365 * kDay);
  CHECK(info.not_after <= now() + 365 * kDay);
  CHECK(must(x509::key_matches_certificate(ca.private_key_pem(), ca.certificate_pem())));
  CHECK(ca.private_key_pem().rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);

  CHECK(x509::CertificateAuthority::create("", kDay).error().code == Errc::invalid_argument);
  CHECK(x509::CertificateAuthority::create("CA", 0).error().code == Errc::invalid_argument);
}

TEST_CASE("key_matches_certificate tells the right key from another", "[x509]") {
  x509::CertificateAuthority ca = make_ca();
  Agent agent = make_agent({"agent-1", {}, {}});
  x509::IssueOptions options;
  options.names = {"agent-1", {}, {}};
  std::string cert = must(ca.issue(agent.csr, options));
  CHECK(must(x509::key_matches_certificate(agent.key, cert)));
  CHECK_FALSE(must(x509::key_matches_certificate(must(x509::generate_private_key_pem()), cert)));
  CHECK_FALSE(must(x509::key_matches_certificate(ca.private_key_pem(), cert)));
  auto ed = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
  REQUIRE(ed.ok());
  CHECK_FALSE(must(x509::key_matches_certificate(ed->to_pem(), cert)));
  CHECK(x509::key_matches_certificate("nope", cert).error().code == Errc::parse);
  CHECK(x509::key_matches_certificate(agent.key, "nope").error().code == Errc::parse);
}

TEST_CASE("a CA loads only with its own key and only if it is a CA", "[x509][ca]") {
  x509::CertificateAuthority ca = make_ca();
  x509::CertificateAuthority other = make_ca();

  auto loaded = x509::CertificateAuthority::load(ca.certificate_pem(), ca.private_key_pem());
  REQUIRE(loaded.ok());
  CHECK(loaded->certificate_pem() == ca.certificate_pem());
  Agent agent = make_agent({"agent-1", {}, {}});
  x509::IssueOptions options;
  options.names = {"agent-1", {}, {}};
  CHECK(
      x509::verify_certificate(must(loaded->issue(agent.csr, options)), ca.certificate_pem()).ok());

  auto mismatched = x509::CertificateAuthority::load(ca.certificate_pem(), other.private_key_pem());
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.error().code == Errc::mismatch);
  CHECK_THAT(mismatched.error().message, Catch::Contains("does not match"));

  std::string leaf = must(ca.issue(agent.csr, options));
  auto not_ca = x509::CertificateAuthority::load(leaf, agent.key);
  REQUIRE_FALSE(not_ca.ok());
  CHECK_THAT(not_ca.error().message, Catch::Contains("not a CA"));

  CHECK(x509::CertificateAuthority::load("x", ca.private_key_pem()).error().code == Errc::parse);
  CHECK(x509::CertificateAuthority::load(ca.certificate_pem(), "x").error().code == Errc::parse);
}

TEST_CASE("garbage PEM gives a clear parse error", "[x509]") {
  const std::string corrupted_body =
      "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAA\n-----END CERTIFICATE-----\n";
  for (const std::string& garbage : {std::string(), std::string("hello"), corrupted_body}) {
    INFO(garbage);
    auto cert = x509::read_certificate(garbage);
    REQUIRE_FALSE(cert.ok());
    CHECK(cert.error().code == Errc::parse);
    CHECK_THAT(cert.error().message, Catch::StartsWith("certificate: not valid PEM"));

    auto csr = x509::read_csr(garbage);
    REQUIRE_FALSE(csr.ok());
    CHECK(csr.error().code == Errc::parse);
    CHECK_THAT(csr.error().message, Catch::StartsWith("csr: not valid PEM"));

    CHECK(x509::verify_certificate(garbage, garbage).error().code == Errc::parse);
  }
  auto huge = x509::read_certificate(std::string(100 * 1024, 'A'));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::limit);
}

TEST_CASE("X.509 failures leave no OpenSSL errors queued", "[x509]") {
  ERR_clear_error();
  CHECK_FALSE(x509::read_certificate("junk").ok());
  CHECK_FALSE(x509::read_csr("junk").ok());
  CHECK_FALSE(x509::key_matches_certificate("junk", "junk").ok());
  x509::CertificateAuthority ca = make_ca();
  x509::CertificateAuthority other = make_ca();
  CHECK_FALSE(x509::verify_certificate(ca.certificate_pem(), other.certificate_pem()).ok());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("the openssl command line accepts the CSR and the certificates", "[x509][interop]") {
  pw::test::TempDir dir;
  x509::CertificateAuthority ca = make_ca();
  x509::CertificateAuthority other = make_ca("Other CA");
  Agent agent = make_agent({"agent-1", {"agent-1.local"}, {"10.0.0.5"}});
  x509::IssueOptions options;
  options.names = {"agent-1", {"agent-1.internal"}, {"192.0.2.7"}};
  options.server_auth = false;
  std::string cert = must(ca.issue(agent.csr, options));
  pw::test::write_file(dir / "ca.pem", ca.certificate_pem());
  pw::test::write_file(dir / "other.pem", other.certificate_pem());
  pw::test::write_file(dir / "cert.pem", cert);
  pw::test::write_file(dir / "csr.pem", agent.csr);
  const std::string ca_file = quote(dir / "ca.pem");
  const std::string cert_file = quote(dir / "cert.pem");

  CHECK(shell("openssl req -verify -noout -in " + quote(dir / "csr.pem")) == 0);
  CHECK(shell("openssl verify -CAfile " + ca_file + " " + cert_file) == 0);
  CHECK(shell("openssl verify -CAfile " + quote(dir / "other.pem") + " " + cert_file) != 0);
  CHECK(shell("openssl verify -CAfile " + ca_file + " " + ca_file) == 0);
  // clientAuth only, as the options asked.
  CHECK(shell("openssl verify -purpose sslclient -CAfile " + ca_file + " " + cert_file) == 0);
  CHECK(shell("openssl verify -purpose sslserver -CAfile " + ca_file + " " + cert_file) != 0);

  x509::CertInfo info = must(x509::read_certificate(cert));
  std::string fingerprint = run("openssl x509 -noout -fingerprint -sha256 -in " + cert_file);
  std::string expected;
  for (char c : fingerprint.substr(fingerprint.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      expected += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  CHECK(info.sha256_fingerprint == expected);
  std::string serial = run("openssl x509 -noout -serial -in " + cert_file);
  std::string expected_serial;
  for (char c : serial.substr(serial.find('=') + 1)) {
    if (c != '\n')
      expected_serial += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  CHECK(info.serial_hex == expected_serial);
  // The issued certificate carries the CSR's key, and its SPKI hash is openssl's.
  std::string spki = run("openssl x509 -noout -pubkey -in " + cert_file +
                         " | openssl pkey -pubin -outform DER | sha256sum");
  CHECK(info.public_key_sha256 == spki.substr(0, 64));
  CHECK(info.public_key_sha256 == must(x509::read_csr(agent.csr)).public_key_sha256);
  std::string cert_key = run("openssl x509 -noout -pubkey -in " + cert_file);
  CHECK_THAT(cert_key, Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
  CHECK(cert_key == run("openssl req -noout -pubkey -in " + quote(dir / "csr.pem")));

  std::string text = run("openssl x509 -noout -text -in " + cert_file);
  CHECK_THAT(text, Catch::Contains("CA:FALSE"));
  CHECK_THAT(text, Catch::Contains("DNS:agent-1.internal"));
  CHECK_THAT(text, Catch::Contains("IP Address:192.0.2.7"));
  CHECK_THAT(text, Catch::Contains("TLS Web Client Authentication"));
  CHECK_THAT(text, Catch::Contains("X509v3 Authority Key Identifier"));
  CHECK_THAT(text, Catch::Contains("X509v3 Subject Key Identifier"));
  CHECK_THAT(text, Catch::Contains("Subject: CN = agent-1"));
  CHECK_FALSE(text.find("10.0.0.5") != std::string::npos);
  CHECK_FALSE(text.find("agent-1.local") != std::string::npos);

  std::string ca_text = run("openssl x509 -noout -text -in " + ca_file);
  CHECK_THAT(ca_text, Catch::Contains("CA:TRUE, pathlen:0"));
  CHECK_THAT(ca_text, Catch::Contains("Certificate Sign, CRL Sign"));
}
