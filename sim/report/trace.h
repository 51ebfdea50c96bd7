// The one trace writer (Chrome trace-event JSON, opens in ui.perfetto.dev): a process per
// simulated rank with a track per resource (host, engines, memory levels, network), and a
// process per network plane with a track per traffic class.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "sim/report/report.h"

namespace orrery {

[[nodiscard]] nlohmann::json step_trace(const StepOutcome& step);

/// A network-only run: one process for `plane`, one track named `track` holding the named
/// intervals (seconds).
struct TraceSpan {
  std::string name;
  double start = 0, end = 0;
};
[[nodiscard]] nlohmann::json network_trace(const std::string& plane, const std::string& track,
                                           const std::vector<TraceSpan>& spans);

}  // namespace orrery
