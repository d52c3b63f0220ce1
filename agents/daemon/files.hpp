// Small file helpers of the agent's state directory.
#pragma once

#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::agent {

// The whole file, at most `limit` bytes; Errc::not_found when missing.
Result<std::string> read_file_limited(const std::string& path, std::size_t limit);
// Writes through a temporary file, fsync and rename: the old content or the new one.
Status write_file_atomic(const std::string& path, std::string_view content, unsigned mode = 0644);
// Creates the directory (and parents) with mode 0700 when missing.
Status ensure_private_dir(const std::string& path);

}  // namespace pw::agent
