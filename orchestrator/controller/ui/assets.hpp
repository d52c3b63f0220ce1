// The dashboard's files (orchestrator/controller/ui/assets/), embedded in the binary at
// build time (embed_assets.cmake), so the controller serves them without touching the
// file system or the network.
#pragma once

#include <string_view>

namespace pw::dashboard {

struct Asset {
  std::string_view name;  // "index.html"
  std::string_view content_type;
  std::string_view body;
};

// nullptr when there is no such file.
const Asset* find_asset(std::string_view name);

}  // namespace pw::dashboard
