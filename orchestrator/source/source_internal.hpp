// Private helpers shared by the source module's translation units. Not part of the
// public API: include only from orchestrator/source/*.cpp.
#pragma once

#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::source::detail {

// Chunk size for stream(): readers never hand the sink more than this at once.
inline constexpr std::size_t kChunkSize = std::size_t{1} << 20;

// A string in double quotes, with quotes, backslashes and control bytes escaped, for
// error messages that name a user-supplied path or ref.
std::string quote(std::string_view text);

// The scheme of "scheme://..." (lower-cased), or "" if `spec` does not start with one.
std::string url_scheme(std::string_view spec);

// The local path of a file:// URL ("file:///srv/repo", "file://localhost/srv/repo"),
// percent-decoded. Errc::unsupported for other schemes or a remote host,
// Errc::invalid_argument for a malformed URL.
Result<std::string> local_path_from_url(const std::string& url);

}  // namespace pw::source::detail
