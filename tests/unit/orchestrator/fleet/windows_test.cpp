// Maintenance windows (fleet/windows.cpp): membership, days crossing midnight, daylight
// saving time, the next opening, and how windows and durations are written out.
// Show std::optional<time_point> values when a next_window_start check fails.
#define CATCH_CONFIG_ENABLE_CHRONO_STRINGMAKER
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <vector>

#include "orchestrator/fleet/policy.hpp"

namespace fleet = pw::fleet;
using std::chrono::seconds;
using Time = std::chrono::system_clock::time_point;

namespace {

Time utc(int y, unsigned m, unsigned d, int hour, int minute = 0) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}} + hours{hour} + minutes{minute};
}

fleet::Region with_windows(std::vector<fleet::Window> windows) {
  fleet::Region region;
  region.name = "bw";
  region.windows = std::move(windows);
  return region;
}

const std::vector<int> kWeekdays = {0, 1, 2, 3, 4};
const std::vector<int> kEveryDay = {0, 1, 2, 3, 4, 5, 6};

}  // namespace

TEST_CASE("a window that does not cross midnight covers [start, end) on its days", "[fleet]") {
  // 2026-01-14 is a Wednesday.
  auto region = with_windows({{kWeekdays, 9 * 60, 17 * 60 + 30, "UTC"}});
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 14, 8, 59)));
  CHECK(fleet::in_window(region, utc(2026, 1, 14, 9, 0)));
  CHECK(fleet::in_window(region, utc(2026, 1, 14, 17, 29)));
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 14, 17, 30)));
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 17, 12, 0)));  // Saturday
  CHECK(fleet::in_window(with_windows({}), utc(2026, 1, 17, 12, 0)));
}

TEST_CASE("a window crossing midnight belongs to the day it opens", "[fleet]") {
  // Mon-Fri 22:00-04:00 Berlin; in January Berlin is UTC+1.
  auto region = with_windows({{kWeekdays, 22 * 60, 4 * 60, "Europe/Berlin"}});
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 14, 20, 59)));  // Wed 21:59
  CHECK(fleet::in_window(region, utc(2026, 1, 14, 21, 0)));         // Wed 22:00
  CHECK(fleet::in_window(region, utc(2026, 1, 14, 23, 30)));        // Thu 00:30
  CHECK(fleet::in_window(region, utc(2026, 1, 15, 2, 59)));         // Thu 03:59
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 15, 3, 0)));    // Thu 04:00
  // Friday's window runs into Saturday; Saturday's and Sunday's do not open.
  CHECK(fleet::in_window(region, utc(2026, 1, 17, 0, 0)));          // Sat 01:00
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 17, 21, 30)));  // Sat 22:30
  CHECK_FALSE(fleet::in_window(region, utc(2026, 1, 19, 0, 0)));    // Mon 01:00
  CHECK(fleet::in_window(region, utc(2026, 1, 19, 21, 30)));        // Mon 22:30
}

TEST_CASE("windows follow daylight saving time in their time zone", "[fleet]") {
  auto region = with_windows({{kEveryDay, 22 * 60, 4 * 60, "Europe/Berlin"}});
  // Spring: on Sunday 2026-03-29 Berlin goes from 02:00 CET to 03:00 CEST (01:00 UTC). The
  // night of 28/29 March opens at 22:00 CET (21:00 UTC) and closes at 04:00 CEST (02:00
  // UTC): five hours.
  CHECK_FALSE(fleet::in_window(region, utc(2026, 3, 28, 20, 59)));
  CHECK(fleet::in_window(region, utc(2026, 3, 28, 21, 0)));
  CHECK(fleet::in_window(region, utc(2026, 3, 29, 0, 59)));  // 01:59 CET
  CHECK(fleet::in_window(region, utc(2026, 3, 29, 1, 0)));   // 03:00 CEST
  CHECK(fleet::in_window(region, utc(2026, 3, 29, 1, 59)));  // 03:59 CEST
  CHECK_FALSE(fleet::in_window(region, utc(2026, 3, 29, 2, 0)));
  // The next evening is summer time: 22:00 CEST is 20:00 UTC.
  CHECK_FALSE(fleet::in_window(region, utc(2026, 3, 29, 19, 59)));
  CHECK(fleet::in_window(region, utc(2026, 3, 29, 20, 0)));

  // Autumn: on Sunday 2026-10-25 Berlin goes from 03:00 CEST back to 02:00 CET (01:00 UTC).
  // The night of 24/25 October opens at 22:00 CEST (20:00 UTC) and closes at 04:00 CET
  // (03:00 UTC): seven hours.
  CHECK_FALSE(fleet::in_window(region, utc(2026, 10, 24, 19, 59)));
  CHECK(fleet::in_window(region, utc(2026, 10, 24, 20, 0)));
  CHECK(fleet::in_window(region, utc(2026, 10, 25, 0, 30)));  // 02:30 CEST
  CHECK(fleet::in_window(region, utc(2026, 10, 25, 1, 30)));  // 02:30 CET
  CHECK(fleet::in_window(region, utc(2026, 10, 25, 2, 59)));  // 03:59 CET
  CHECK_FALSE(fleet::in_window(region, utc(2026, 10, 25, 3, 0)));
  CHECK_FALSE(fleet::in_window(region, utc(2026, 10, 25, 20, 59)));
  CHECK(fleet::in_window(region, utc(2026, 10, 25, 21, 0)));  // 22:00 CET
}

TEST_CASE("next_window_start finds the next opening, or now when inside a window", "[fleet]") {
  auto region = with_windows({{kWeekdays, 22 * 60, 4 * 60, "Europe/Berlin"}});
  // Wednesday noon -> Wednesday 22:00 CET.
  CHECK(fleet::next_window_start(region, utc(2026, 1, 14, 12, 0)) == utc(2026, 1, 14, 21, 0));
  // Inside (Saturday 00:30, Friday's window) -> now.
  Time inside = utc(2026, 1, 16, 23, 30) + std::chrono::milliseconds{250};
  CHECK(fleet::next_window_start(region, inside) == inside);
  // Saturday noon -> Monday 22:00.
  CHECK(fleet::next_window_start(region, utc(2026, 1, 17, 12, 0)) == utc(2026, 1, 19, 21, 0));
  // Sunday 29 March (clocks went forward that night) -> Monday 22:00 CEST = 20:00 UTC.
  CHECK(fleet::next_window_start(region, utc(2026, 3, 29, 12, 0)) == utc(2026, 3, 30, 20, 0));
  // Just after a window closed -> the next evening.
  CHECK(fleet::next_window_start(region, utc(2026, 1, 15, 3, 0)) == utc(2026, 1, 15, 21, 0));
  // The earliest of several windows.
  auto two = with_windows(
      {{kWeekdays, 22 * 60, 4 * 60, "Europe/Berlin"}, {{5}, 6 * 60, 18 * 60, "Europe/Berlin"}});
  CHECK(fleet::next_window_start(two, utc(2026, 1, 16, 12, 0)) == utc(2026, 1, 16, 21, 0));
  CHECK(fleet::next_window_start(two, utc(2026, 1, 17, 4, 0)) == utc(2026, 1, 17, 5, 0));
  // No windows: nothing to wait for.
  CHECK_FALSE(fleet::next_window_start(with_windows({}), utc(2026, 1, 17, 12, 0)).has_value());
}

TEST_CASE("next_window_start handles local times that daylight saving skips or repeats",
          "[fleet]") {
  // 02:30-05:00 Berlin: on 2026-03-29 02:30 does not exist; the window opens when the
  // clocks jump to 03:00 CEST (01:00 UTC).
  auto skipped = with_windows({{kEveryDay, 2 * 60 + 30, 5 * 60, "Europe/Berlin"}});
  CHECK_FALSE(fleet::in_window(skipped, utc(2026, 3, 29, 0, 59)));
  CHECK(fleet::in_window(skipped, utc(2026, 3, 29, 1, 0)));
  CHECK(fleet::next_window_start(skipped, utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 1, 0));

  // 01:30-02:15 Berlin: on 2026-10-25 it runs 23:30-00:15 UTC in summer time, and again
  // when the clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC) until 02:15 CET.
  auto repeated = with_windows({{kEveryDay, 90, 2 * 60 + 15, "Europe/Berlin"}});
  CHECK(fleet::next_window_start(repeated, utc(2026, 10, 24, 22, 0)) == utc(2026, 10, 24, 23, 30));
  CHECK_FALSE(fleet::in_window(repeated, utc(2026, 10, 25, 0, 30)));
  CHECK(fleet::next_window_start(repeated, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 1, 0));
  CHECK_FALSE(fleet::in_window(repeated, utc(2026, 10, 25, 1, 15)));
  CHECK(fleet::next_window_start(repeated, utc(2026, 10, 25, 1, 15)) == utc(2026, 10, 26, 0, 30));
}

TEST_CASE("durations print in the largest exact unit", "[fleet]") {
  CHECK(fleet::format_duration(seconds{90}) == "90s");
  CHECK(fleet::format_duration(seconds{600}) == "10m");
  CHECK(fleet::format_duration(seconds{7200}) == "2h");
  CHECK(fleet::format_duration(seconds{86400}) == "1d");
  CHECK(fleet::day_name(0) == std::string("mon"));
  CHECK(fleet::day_name(6) == std::string("sun"));
}

TEST_CASE("describe_windows writes a region's windows on one line", "[fleet]") {
  CHECK(fleet::describe_windows(with_windows({})) == "any time");
  CHECK(fleet::describe_windows(with_windows({{kWeekdays, 20 * 60, 6 * 60, "Europe/Berlin"},
                                              {{5}, 6 * 60, 18 * 60, "Europe/Berlin"}})) ==
        "mon-fri 20:00-06:00 Europe/Berlin; sat 06:00-18:00 Europe/Berlin");
  CHECK(fleet::describe_windows(with_windows({{{0, 2, 4}, 9 * 60 + 5, 17 * 60, "UTC"}})) ==
        "mon,wed,fri 09:05-17:00 UTC");
  CHECK(fleet::describe_windows(with_windows({{kEveryDay, 22 * 60, 0, "UTC"}})) ==
        "daily 22:00-00:00 UTC");
  CHECK(fleet::describe_windows(with_windows({{{0, 1, 2, 4, 5}, 60, 120, "UTC"}})) ==
        "mon-wed,fri-sat 01:00-02:00 UTC");
  // A run across the end of the week stays one range.
  CHECK(fleet::describe_windows(with_windows({{{0, 4, 5, 6}, 60, 120, "UTC"}})) ==
        "fri-mon 01:00-02:00 UTC");
  CHECK(fleet::describe_windows(with_windows({{{2, 5, 6}, 60, 120, "UTC"}})) ==
        "wed,sat-sun 01:00-02:00 UTC");
  CHECK(fleet::describe_windows(with_windows({{{6}, 60, 120, "UTC"}})) == "sun 01:00-02:00 UTC");
}
