// Maintenance windows in local time (Howard Hinnant's date/tz over the system tzdata).
// Whether an instant is inside a window is decided on the local time of that instant, so
// a 22:00-04:00 window lasts 5 real hours on the night clocks go forward and 7 on the
// night they go back. Local times a change skips (02:30 on a spring-forward night) never
// happen, so a window opens at the first local time that exists inside it.
#include <algorithm>
#include <exception>

#include <date/tz.h>

#include "orchestrator/fleet/internal.hpp"
#include "orchestrator/fleet/policy.hpp"

namespace pw::fleet {
namespace {

using Clock = std::chrono::system_clock;
using std::chrono::seconds;

const date::time_zone* find_zone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (...) {
    return nullptr;
  }
}

bool opens_on(const Window& window, int day) {
  return std::find(window.days.begin(), window.days.end(), day) != window.days.end();
}

// Throws only if the zone's data cannot be read; callers catch.
bool contains(const Window& window, const date::time_zone& zone, date::sys_seconds when) {
  auto local = zone.to_local(when);
  auto local_day = date::floor<date::days>(local);
  int day = static_cast<int>(date::weekday{local_day}.iso_encoding()) - 1;  // 0 = Monday
  auto minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - local_day).count());
  if (window.start_minute < window.end_minute) {
    return opens_on(window, day) && minute >= window.start_minute && minute < window.end_minute;
  }
  // Crosses midnight: the evening part belongs to the day it opens, the morning part to
  // the day before.
  return (opens_on(window, day) && minute >= window.start_minute) ||
         (opens_on(window, (day + 6) % 7) && minute < window.end_minute);
}

bool inside_any(const Region& region, date::sys_seconds when) {
  for (const auto& window : region.windows) {
    const date::time_zone* zone = find_zone(window.timezone);
    if (zone == nullptr) continue;
    try {
      if (contains(window, *zone, when)) return true;
    } catch (...) {
      // The zone's data could not be read: this window never matches (fails closed).
    }
  }
  return false;
}

// Every instant in [begin, end) at which the region may enter a window: the local start
// times (both instants when a change makes the local time occur twice; the change itself
// when it skips it) and the zones' offset changes, which can move the local time into a
// window. The local time only moves forward between changes, so entering a window happens
// at one of these.
std::vector<date::sys_seconds> candidates(const Region& region, date::sys_seconds begin,
                                          date::sys_seconds end) {
  std::vector<date::sys_seconds> out;
  for (const auto& window : region.windows) {
    const date::time_zone* zone = find_zone(window.timezone);
    if (zone == nullptr) continue;
    try {
      auto first_day = date::floor<date::days>(zone->to_local(begin)) - date::days{1};
      auto span = std::chrono::duration_cast<date::days>(end - begin) + date::days{3};
      for (auto day = first_day; day < first_day + span; day += date::days{1}) {
        date::local_seconds start = day + std::chrono::minutes{window.start_minute};
        out.push_back(zone->to_sys(start, date::choose::earliest));
        out.push_back(zone->to_sys(start, date::choose::latest));
      }
      for (auto t = begin; t < end;) {
        auto info = zone->get_info(t);
        if (info.end <= t || info.end >= end) break;
        out.push_back(info.end);
        t = info.end;
      }
    } catch (...) {
      // Unreadable zone data: no candidates from this window.
    }
  }
  return out;
}

}  // namespace

namespace detail {

bool timezone_exists(const std::string& name) { return find_zone(name) != nullptr; }

}  // namespace detail

bool in_window(const Region& region, Clock::time_point when) {
  if (region.windows.empty()) return true;
  return inside_any(region, date::floor<seconds>(when));
}

std::optional<Clock::time_point> next_window_start(const Region& region, Clock::time_point when) {
  if (region.windows.empty()) return std::nullopt;
  if (in_window(region, when)) return when;
  // Windows repeat weekly; look 8 days at a time, up to about 16 months ahead (a window
  // that only ever covers skipped local times would otherwise be searched for ever).
  constexpr auto kChunk = date::days{8};
  auto begin = date::floor<seconds>(when);
  for (int chunk = 0; chunk < 60; ++chunk, begin += kChunk) {
    auto end = begin + kChunk;
    std::optional<date::sys_seconds> best;
    for (auto candidate : candidates(region, begin, end)) {
      if (candidate >= end || candidate < when || (best && candidate >= *best)) continue;
      if (inside_any(region, candidate)) best = candidate;
    }
    if (best) return std::chrono::time_point_cast<Clock::duration>(*best);
  }
  return std::nullopt;
}

}  // namespace pw::fleet
