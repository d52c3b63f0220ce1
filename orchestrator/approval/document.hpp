// The envelope shared by approvals and countersignatures, shaped like TUF metadata:
//   {"signed": {...}, "signatures": [{"keyid": "<64 hex>", "sig": "<hex>"}]}
// Signatures cover the canonical JSON of "signed" (json::canonical, as for TUF metadata);
// times are TUF times (trust::parse_time). This header is what approval.hpp and
// countersign.hpp share; callers normally need only those two.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/json/json.hpp"
#include "common/trust/metadata.hpp"

namespace pw::approval {

// A document larger than this is refused (Errc::limit) before it is parsed.
inline constexpr std::size_t kMaxDocumentBytes = 64 * 1024;

struct Document {
  json::Value signed_json;  // an object whose fields were checked against the type's list
  std::string canonical;    // the bytes the signatures cover
  std::vector<trust::Signature> signatures;  // distinct key ids, lowercase hex
};

// Parses the envelope of a document of `type` ("approval", "countersignature"): size and
// JSON limits, exactly "signed" and "signatures" at the top, signatures with a 64-hex
// keyid and a hex sig and no key id twice ("signed twice by key K"), signed._type ==
// type, and no field in "signed" outside `fields`. Errors are Errc::parse or Errc::limit
// with `source` as context. The fields' values are for the caller to check.
Result<Document> parse_document(std::string_view bytes, std::string_view type,
                                std::initializer_list<std::string_view> fields,
                                std::string_view source);

// The file text: {"signatures": [...], "signed": {...}} with one-space indentation and
// a final newline.
std::string document_text(const json::Value& signed_json,
                          const std::vector<trust::Signature>& signatures);

// Signs `canonical` with `key`, under the key id of its TUF public key JSON (the id
// `patchwave key generate` prints and the fleet policy lists).
Result<trust::Signature> sign_canonical(std::string_view canonical, const crypto::PrivateKey& key);

// "3f2a1c0d..9b1c": enough of a key id to tell keys apart in a message.
std::string short_keyid(std::string_view keyid);

// Field rules shared by both documents; each returns Errc::parse naming `field`.
// A target name: 1..1024 bytes of UTF-8 without control characters, relative, with no
// empty, "." or ".." path component (it also names a file under countersignatures/).
Status check_target_name(std::string_view name, std::string_view field);
// Exactly 64 lowercase hex digits.
Status check_sha256(std::string_view hex, std::string_view field);
// Valid UTF-8 without control characters (C0, DEL, C1), at most `max_bytes` bytes.
Status check_text(std::string_view text, std::size_t max_bytes, std::string_view field);
// A time "YYYY-MM-DDTHH:MM:SSZ" read from `signed` (via trust::parse_time).
Result<trust::TimePoint> get_time(const json::Value& signed_json, std::string_view name);

}  // namespace pw::approval
