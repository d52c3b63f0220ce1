// `patchwave rollout status --watch` on a terminal: a live view redrawn in place, with
// a progress bar per region, the traffic split between the old and the new servers,
// health, time in state, time to patch and what each region waits for. It reads the
// dashboard's rollout view (GET /ui/api/rollouts/{id}, ui/views.hpp) with the
// operator's certificate, so the terminal and the dashboard show the same thing.
// Without a terminal, `status --watch` prints plain lines instead (cmd_rollout.cpp).
#pragma once

#include <string>

#include "common/json/json.hpp"
#include "orchestrator/cli/client.hpp"

namespace pw::cli {

// stdout is a terminal that understands cursor movement (TERM is set and not "dumb").
bool live_terminal();

// The frame for one rollout view, `width` columns wide at most, with colours or not.
std::string render_watch(const json::Value& view, int width, bool color, bool unicode);

// Follows the rollout until it finishes; 0 when every region succeeded, 1 otherwise.
int watch_live(const ClientArgs& args, const std::string& id);

}  // namespace pw::cli
