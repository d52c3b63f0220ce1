#include "orchestrator/controller/ui/metrics_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace pw::dashboard {
namespace {

bool name_char(char c, bool first, bool colon) {
  bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {
  std::sort(bounds.begin(), bounds.end());
}

void Histogram::observe(double value) {
  auto at = std::lower_bound(bounds.begin(), bounds.end(), value);  // le: value <= bound
  ++counts[static_cast<std::size_t>(at - bounds.begin())];
  sum += value;
  ++count;
}

std::vector<double> duration_buckets() {
  return {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400};
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }
bool valid_label_name(std::string_view name) {
  return valid_name(name, false) && name.rfind("__", 0) != 0;
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  name_ = valid_metric_name(name) ? std::string(name) : std::string("invalid_name");
  text_ += "# HELP " + name_ + " " + escape_help(help) + "\n";
  text_ += "# TYPE " + name_ + " " + std::string(type) + "\n";
}

void Exposition::sample(const Labels& labels, double value, std::string_view suffix) {
  text_ += name_;
  text_ += suffix;
  if (!labels.empty()) {
    text_ += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_ += valid_label_name(label) ? label : std::string("invalid_label");
      text_ += "=\"" + escape_label_value(label_value) + "\"";
    }
    text_ += '}';
  }
  text_ += ' ' + format_value(value) + '\n';
}

void Exposition::histogram(const Labels& labels, const Histogram& histogram) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < histogram.bounds.size(); ++i) {
    cumulative += histogram.counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", format_value(histogram.bounds[i]));
    sample(with_le, static_cast<double>(cumulative), "_bucket");
  }
  Labels with_inf = labels;
  with_inf.emplace_back("le", "+Inf");
  sample(with_inf, static_cast<double>(histogram.count), "_bucket");
  sample(labels, histogram.sum, "_sum");
  sample(labels, static_cast<double>(histogram.count), "_count");
}

}  // namespace pw::dashboard
