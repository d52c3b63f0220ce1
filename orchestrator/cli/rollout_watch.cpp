#include "orchestrator/cli/rollout_watch.hpp"

#include <langinfo.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/controller/ui/views.hpp"

namespace pw::cli {
namespace {

const char* const kReset = "\x1b[0m";

const char* color_of(const json::Value& region) {
  std::string state = region.value("state", "");
  if (state == "succeeded") return "\x1b[32m";                                // green
  if (region.value("failed", false)) return "\x1b[31m";                       // red
  if (state == "awaiting_approval" || state == "pending") return "\x1b[33m";  // yellow
  return "\x1b[36m";                                                          // cyan: in progress
}

// Left-aligned in `width` columns, and at least one space after it.
std::string pad(std::string text, std::size_t width) {
  text.append(text.size() < width ? width - text.size() : 1, ' ');
  return text;
}

std::string bar(int percent, int cells, bool unicode) {
  int full = std::clamp(percent, 0, 100) * cells / 100;
  std::string out;
  for (int i = 0; i < cells; ++i)
    out += i < full ? (unicode ? "\u2588" : "#") : (unicode ? "\u2591" : "-");
  return out;
}

std::string duration(const json::Value& ms) {
  if (!ms.is_number()) return "-";
  return dashboard::format_duration(ms.get<dashboard::Millis>());
}

// Cuts a line to `width` columns: counts UTF-8 code points, skips escape sequences.
std::string fit(const std::string& line, int width) {
  std::string out;
  int columns = 0;
  bool cut = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1b) {
      std::size_t end = line.find('m', i);
      if (end == std::string::npos) break;
      out.append(line, i, end - i + 1);
      i = end;
      continue;
    }
    if ((c & 0xC0) != 0x80) {
      if (columns >= width) {
        cut = true;
        continue;
      }
      ++columns;
    } else if (cut) {
      continue;
    }
    out += line[i];
  }
  return out;
}

int terminal_width() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 100;
}

bool unicode_terminal() {
  std::setlocale(LC_CTYPE, "");
  const char* codeset = nl_langinfo(CODESET);
  return codeset != nullptr && std::strcmp(codeset, "UTF-8") == 0;
}

}  // namespace

bool live_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) == 1 && term != nullptr && std::strcmp(term, "dumb") != 0;
}

std::string render_watch(const json::Value& view, int width, bool color, bool unicode) {
  std::string out;
  auto line = [&](const std::string& text) { out += fit(text, width) + "\n"; };
  std::string head = "rollout " + view.value("id", "") + "  " + view.value("app", "") + " " +
                     view.value("version", "") + "  " + view.value("urgency", "");
  for (const auto& cve : view.value("cves", json::Value::array())) {
    head += " " + cve.get<std::string>();
  }
  head += "  " + view.value("state", "") + "  started " +
          duration(view.value("age_ms", json::Value())) + " ago";
  line(head);
  line("progress " + std::to_string(view.value("progress", 0)) +
       "%   time to patch (all regions) " +
       duration(view.value("time_to_patch_ms", json::Value())));
  line("");
  // 96 columns with the longest usual values; longer region names push the rest right.
  line("  " + pad("REGION", 9) + pad("STATE", 22) + pad("PROGRESS", 24) + pad("OLD / NEW", 13) +
       pad("HEALTH", 9) + pad("IN STATE", 9) + "TO PATCH");
  for (const auto& region : view.value("regions", json::Value::array())) {
    int progress = region.value("progress", 0);
    const json::Value& traffic = region["traffic"];
    const json::Value& health = region["health"];
    std::string split = traffic["old"].get<int>() == 0 && traffic["new"].get<int>() == 0
                            ? "no traffic yet"
                            : std::to_string(traffic["old"].get<int>()) + "% / " +
                                  std::to_string(traffic["new"].get<int>()) + "%";
    std::string checks = health.value("servers", 0) > 0
                             ? std::to_string(health.value("passing", 0)) + "/" +
                                   std::to_string(health.value("servers", 0)) + " ok"
                             : "-";
    std::string state =
        region.value("state_label", "") + (region.value("paused", false) ? " (paused)" : "");
    std::string text = "  " + pad(region.value("region", ""), 9);
    text += (color ? color_of(region) : "") + pad(state, 22) + (color ? kReset : "");
    std::string percent = std::to_string(progress) + "%";
    text += "[" + bar(progress, 16, unicode) + "] " + pad(percent, 5);
    text += pad(split, 13) + pad(checks, 9) +
            pad(duration(region.value("time_in_state_ms", json::Value())), 9) +
            duration(region.value("time_to_patch_ms", json::Value()));
    line(text);
    if (!region.value("waits_for", "").empty()) {
      line("            waits for: " + region.value("waits_for", ""));
    }
    const json::Value& analysis = health.value("analysis", json::Value());
    if (analysis.is_object() && !region.value("terminal", false)) {
      line("            analysis at " + std::to_string(analysis.value("percent", 0)) +
           "%: " + analysis.value("outcome", "") + " - " + analysis.value("reason", ""));
    }
    if (!region.value("reason", "").empty()) {
      line("            reason: " + region.value("reason", ""));
    }
  }
  return out;
}

int watch_live(const ClientArgs& args, const std::string& id) {
  bool color = std::getenv("NO_COLOR") == nullptr;
  bool unicode = unicode_terminal();
  int lines = 0;
  for (;;) {
    auto view = call_controller(args, "GET", "/ui/api/rollouts/" + id);
    if (!view.ok()) return fail(view.error());
    std::string frame = render_watch(*view, terminal_width() - 1, color, unicode);
    bool done = view->value("terminal", false);
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
    frame +=
        done ? std::string("finished: ") + view->value("state", "") + "\n"
             : std::string("updated ") + stamp + " - Ctrl-C stops watching (the rollout goes on)\n";
    // Back to the top of the previous frame, clear below, draw the new one.
    if (lines > 0) std::printf("\x1b[%dA\r\x1b[J", lines);
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    lines = static_cast<int>(std::count(frame.begin(), frame.end(), '\n'));
    if (done) return view->value("state", "") == "succeeded" ? kExitOk : kExitFailed;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace pw::cli
