// A fresh directory under $TMPDIR for one test, removed when it goes out of scope.
#pragma once

#include <string>

namespace pw::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Small file helpers for tests.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace pw::test
