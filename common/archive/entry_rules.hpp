// Pure checks on what one tar header says: its name, its link target, its type and its
// mode. No libarchive and no file system here, so every rule is unit-testable on strings.
// The rule texts returned are the ones users read ("'..' component", "setuid bit").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/archive/archive.hpp"

namespace pw::archive::detail {

// What a header declares, independent of libarchive's constants.
enum class RawType {
  file,
  directory,
  symlink,
  hardlink,
  char_device,
  block_device,
  fifo,
  socket,
  unknown
};

// One tar header as read, before any rule is applied. Names are the bytes as written.
struct RawHeader {
  std::string name;
  RawType type = RawType::unknown;
  std::string link_target;  // symlink target or hardlink target
  std::uint64_t size = 0;
  std::uint32_t permissions = 0;  // the 12 low mode bits (07777)
  bool has_mtime = false;
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;
  std::string warning;  // what libarchive warned about while reading this header, if anything
};

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text);

// A name as it may be shown to a person or put in JSON: valid UTF-8 is kept; control
// characters, bytes that are not UTF-8 and backslashes are escaped ("\x1b", "\\").
std::string printable(std::string_view raw);

// A name that passed check_name: its components ("." dropped), joined with '/'.
// No components means the release directory itself ("./").
struct CheckedPath {
  std::vector<std::string> components;
  std::string joined() const;
};

struct Rule {
  Errc code = Errc::invalid_argument;  // invalid_argument for hostile names, limit for limits
  std::string text;
};

// Checks an entry name (or a hardlink target, which names an entry too): not empty,
// valid UTF-8, not absolute, no '..' and no empty component, within the path and
// component limits. A single trailing '/' (directories) and "." components are fine.
// Returns the first rule broken, or fills `out`.
std::optional<Rule> check_name(std::string_view raw, const Limits& limits, CheckedPath& out);

// Checks a symlink target lexically against the directory of the link (`link_dir`,
// the components of the link's parent): not empty, valid UTF-8, not absolute, within
// the path limit, and it must not climb above the release directory. '..' is allowed
// while it stays inside ("lib/x.so -> ../shared/x.so"). Chains through other symlinks
// are checked once the whole tree is known (Tree::check_symlinks).
std::optional<Rule> check_symlink_target(std::string_view target,
                                         const std::vector<std::string>& link_dir,
                                         const Limits& limits);

// Entry types other than files, directories, symlinks and hardlinks are refused.
std::optional<Rule> check_type(RawType type);

// setuid is refused on every entry, setgid on everything but directories (on a
// directory it only means "new files inherit the group", and GNU tar records it from
// shared group directories; it is cleared there instead).
std::optional<Rule> check_mode(RawType type, std::uint32_t permissions);

// The mode written: permissions & 0775 (no world-writable bit, no setuid, setgid or
// sticky bit); group-writable and every read and execute bit are kept.
std::uint32_t clamp_mode(std::uint32_t permissions);

// Splits on '/', keeping empty components.
std::vector<std::string> split_path(std::string_view path);

}  // namespace pw::archive::detail
