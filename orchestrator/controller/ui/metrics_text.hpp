// The Prometheus text exposition format (version 0.0.4), as `/metrics` serves it:
//
//   # HELP patchwave_rollouts Rollouts by state.
//   # TYPE patchwave_rollouts gauge
//   patchwave_rollouts{state="running"} 1
//
// Each family is written once with its HELP and TYPE lines, then its samples. Label
// values are escaped (backslash, double quote, line feed), HELP texts too (backslash,
// line feed); names that the format does not allow are programming errors and are
// replaced by "invalid_name" so that a scrape never breaks on them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pw::dashboard {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Upper bounds of the buckets (ascending; +Inf is implied), counts per bucket (not
// cumulative; the last one counts what is above every bound), their sum and count.
struct Histogram {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;  // bounds.size() + 1
  double sum = 0;
  std::uint64_t count = 0;

  explicit Histogram(std::vector<double> upper_bounds = {});
  void observe(double value);
};

// Bucket bounds for durations in seconds, from a fraction of a second to a day.
std::vector<double> duration_buckets();

std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);
// A sample value: integers without a fraction, others in the shortest form that reads
// back the same; +Inf, -Inf and NaN as the format spells them.
std::string format_value(double value);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

class Exposition {
 public:
  // Starts a family: `type` is counter, gauge, histogram or untyped.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the current family (`suffix` for histograms' _bucket/_sum/_count).
  void sample(const Labels& labels, double value, std::string_view suffix = "");
  // The samples of a histogram family: _bucket (cumulative, with le), _sum, _count.
  void histogram(const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string name_;
};

}  // namespace pw::dashboard
