// Reading and writing files that hold secrets (private keys, tokens).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::crypto {

// The whole file, refused (Errc::permission) when group or others may read or write it,
// (Errc::limit) when larger than `limit`, (Errc::not_found) when missing.
Result<std::string> read_secret_file(const std::string& path, std::size_t limit);

// Writes `content` with mode 0600 atomically; Errc::conflict if `path` exists.
Status write_secret_file(const std::string& path, std::string_view content);

}  // namespace pw::crypto
