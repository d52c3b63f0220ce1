#include "orchestrator/traffic/stat.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace pw::traffic {
namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, separator)) out.push_back(field);
  if (!line.empty() && line.back() == separator) out.emplace_back();
  return out;
}

// HAProxy accepts only letters, digits, '.', '_', '-' and ':' in proxy and server names
// (its invalid_char()). Anything else did not come from a configuration HAProxy loaded.
bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != ':') return false;
  }
  return true;
}

// A name as it may be shown in an error: printable ASCII kept, other bytes as \xNN.
std::string shown(const std::string& raw) {
  std::string out;
  for (char ch : raw.substr(0, 64)) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return raw.size() > 64 ? out + "..." : out;
}

// One data row read through the header's column names.
class Row {
 public:
  Row(const std::vector<std::string>& header, const std::vector<std::string>& fields)
      : header_(header), fields_(fields) {}

  std::string text(const std::string& name) const {
    for (std::size_t i = 0; i < header_.size() && i < fields_.size(); ++i) {
      if (header_[i] == name) return fields_[i];
    }
    return {};
  }

  // Empty or absent: 0. Anything but digits: an error naming the column.
  Result<std::uint64_t> number(const std::string& name) const {
    std::string value = text(name);
    std::uint64_t out = 0;
    if (value.empty()) return out;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (error != std::errc() || end != value.data() + value.size()) {
      return make_error(Errc::parse, "show stat: column " + name + " of " + fields_[0] + "/" +
                                         fields_[1] + ": '" + shown(value) + "' is not a number");
    }
    return out;
  }

 private:
  const std::vector<std::string>& header_;
  const std::vector<std::string>& fields_;
};

}  // namespace

Result<StatTable> parse_stat(const std::string& csv) {
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> header;
  StatTable table;
  std::size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("# ", 0) == 0) {
      header = split(line.substr(2), ',');
      continue;
    }
    auto fields = split(line, ',');
    if (header.empty() || fields.size() < 2) continue;
    for (const std::string* name : {&fields[0], &fields[1]}) {
      if (!valid_name(*name)) {
        return make_error(Errc::parse, "show stat: line " + std::to_string(number) + ": name '" +
                                           shown(*name) +
                                           "' has a character HAProxy does not allow in names "
                                           "(letters, digits, '.', '_', '-', ':')");
      }
    }
    if (fields[1] == "BACKEND") table.backends.insert(fields[0]);
    if (fields[1] == "BACKEND" || fields[1] == "FRONTEND") continue;
    Row row(header, fields);
    // Listeners (type 3) share the frontend's name; only servers (type 2) count.
    if (std::string type = row.text("type"); !type.empty() && type != "2") continue;
    ServerStat stat;
    stat.backend = fields[0];
    stat.server = fields[1];
    stat.status = row.text("status");
    stat.address = row.text("addr");
    const std::pair<const char*, std::uint64_t ServerStat::*> numbers[] = {
        {"weight", &ServerStat::weight},          {"stot", &ServerStat::sessions_total},
        {"hrsp_2xx", &ServerStat::responses_2xx}, {"hrsp_4xx", &ServerStat::responses_4xx},
        {"hrsp_5xx", &ServerStat::responses_5xx}, {"econ", &ServerStat::connection_errors},
        {"eresp", &ServerStat::response_errors},  {"cli_abrt", &ServerStat::client_aborts},
        {"srv_abrt", &ServerStat::server_aborts}, {"rtime", &ServerStat::response_time_ms},
        {"wretr", &ServerStat::retries},
    };
    for (const auto& [name, member] : numbers) {
      PW_TRY_ASSIGN(stat.*member, row.number(name));
    }
    table.servers.push_back(std::move(stat));
  }
  if (header.empty()) {
    return make_error(Errc::parse, "show stat: no CSV header in HAProxy's answer");
  }
  return table;
}

}  // namespace pw::traffic
