#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "common/crypto/x509_detail.hpp"

namespace pw::crypto::x509::detail {

namespace {

// The bytes of an IPv4 or IPv6 address in text, or nothing.
std::optional<std::string> ip_bytes(const std::string& text) {
  std::array<char, 16> buffer{};
  if (text.find('\0') != std::string::npos) return std::nullopt;
  if (inet_pton(AF_INET, text.c_str(), buffer.data()) == 1) return std::string(buffer.data(), 4);
  if (inet_pton(AF_INET6, text.c_str(), buffer.data()) == 1) return std::string(buffer.data(), 16);
  return std::nullopt;
}

bool valid_dns_name(const std::string& name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '*' || c == '_';
  });
}

}  // namespace

Status check_names(const Names& names, std::string_view what) {
  if (names.common_name.empty()) return fail(Errc::invalid_argument, what, "empty common name");
  for (const std::string& dns : names.dns) {
    if (!valid_dns_name(dns)) return fail(Errc::invalid_argument, what, "bad DNS '" + dns + "'");
  }
  for (const std::string& ip : names.ips) {
    if (!ip_bytes(ip)) return fail(Errc::invalid_argument, what, "bad IP address '" + ip + "'");
  }
  for (const std::string& uri : names.uris) {
    bool printable =
        !uri.empty() && uri.size() <= 256 &&
        std::all_of(uri.begin(), uri.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (!printable || uri.find(':') == std::string::npos) {
      return fail(Errc::invalid_argument, what, "bad URI '" + uri + "'");
    }
  }
  return Ok{};
}

// A subject of one common name (OpenSSL enforces its 64-character bound).
Result<Ptr<X509_NAME>> subject_name(const std::string& common_name, std::string_view what) {
  Ptr<X509_NAME> name(X509_NAME_new());
  auto* bytes = reinterpret_cast<const unsigned char*>(common_name.data());
  PW_TRY(
      require(name && X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8, bytes,
                                                 static_cast<int>(common_name.size()), -1, 0) == 1,
              Errc::invalid_argument, what, "bad common name '" + common_name + "'"));
  return name;
}

// The subjectAltName of `names` (which passed check_names), or null if it has none.
Result<Ptr<GENERAL_NAMES>> alt_names(const Names& names) {
  Ptr<GENERAL_NAMES> gens;
  if (names.dns.empty() && names.ips.empty() && names.uris.empty()) return gens;
  gens.reset(GENERAL_NAMES_new());
  auto add = [&gens](int type, ASN1_STRING* raw, const std::string& bytes) -> Status {
    Ptr<ASN1_STRING> value(raw);
    Ptr<GENERAL_NAME> gen(GENERAL_NAME_new());
    bool ok = gens && value && gen &&
              ASN1_STRING_set(value.get(), bytes.data(), static_cast<int>(bytes.size())) == 1;
    if (ok) GENERAL_NAME_set0_value(gen.get(), type, value.release());
    ok = ok && sk_GENERAL_NAME_push(gens.get(), gen.get()) > 0;
    if (ok) gen.release();
    return require(ok, Errc::crypto, "subjectAltName", "cannot encode '" + bytes + "'");
  };
  for (const std::string& dns : names.dns) PW_TRY(add(GEN_DNS, ASN1_IA5STRING_new(), dns));
  for (const std::string& ip : names.ips)
    PW_TRY(add(GEN_IPADD, ASN1_OCTET_STRING_new(), *ip_bytes(ip)));
  for (const std::string& uri : names.uris) PW_TRY(add(GEN_URI, ASN1_IA5STRING_new(), uri));
  return gens;
}

Result<std::string> common_name_of(const X509_NAME* name, std::string_view what) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, NID_commonName, index) >= 0) {
    return fail(Errc::parse, what, "more than one common name");
  }
  unsigned char* raw = nullptr;
  int size = ASN1_STRING_to_UTF8(&raw, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  Ptr<unsigned char> utf8(raw);
  if (size < 0 || !utf8) return openssl_error(Errc::parse, what, "unreadable common name");
  std::string out(reinterpret_cast<const char*>(utf8.get()), static_cast<std::size_t>(size));
  if (out.find('\0') != std::string::npos) return fail(Errc::parse, what, "NUL in common name");
  return out;
}

// Names from a subject and a subjectAltName as X509(V3)_get_(ext_)d2i decodes it (passing
// ownership, and reporting -1 for absent, -2 for repeated extensions in `crit`).
Result<Names> read_names(const X509_NAME* subject, void* san, int crit, std::string_view what) {
  Ptr<GENERAL_NAMES> gens(static_cast<GENERAL_NAMES*>(san));
  if (crit == -2) return fail(Errc::parse, what, "more than one subjectAltName extension");
  if (!gens && crit >= 0) return fail(Errc::parse, what, "malformed subjectAltName extension");
  Names names;
  PW_TRY_ASSIGN(names.common_name, common_name_of(subject, what));
  for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens.get()); ++i) {
    int type = 0;
    auto* value = static_cast<const ASN1_STRING*>(
        GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens.get(), i), &type));
    std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                      static_cast<std::size_t>(ASN1_STRING_length(value)));
    std::array<char, INET6_ADDRSTRLEN> text{};
    int family = bytes.size() == 4 ? AF_INET : bytes.size() == 16 ? AF_INET6 : 0;
    if (type == GEN_DNS && bytes.find('\0') == std::string::npos) {
      names.dns.push_back(std::move(bytes));
    } else if (type == GEN_IPADD && family != 0 &&
               inet_ntop(family, bytes.data(), text.data(), text.size()) != nullptr) {
      names.ips.emplace_back(text.data());
    } else if (type == GEN_URI && bytes.find('\0') == std::string::npos) {
      names.uris.push_back(std::move(bytes));
    } else if (type == GEN_DNS || type == GEN_IPADD || type == GEN_URI) {
      return fail(Errc::parse, what, "malformed DNS name or IP address in subjectAltName");
    }
  }
  return names;
}

}  // namespace pw::crypto::x509::detail
