// The one trace writer (Chrome trace-event JSON, opens in ui.perfetto.dev): a process per
// simulated rank with a track per resource (host, engines, memory levels, network), and a
// process per network plane with a track per traffic class (its collective, dispatch and
// combine calls), a counter of the bytes/s its flows carry together, and a counter per busy link
// of the fraction of its bandwidth in use (docs/report.md, "Reading a trace").
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "hw/network/plane.h"
#include "hw/network/rate_log.h"
#include "sim/report/report.h"

namespace orrery {

[[nodiscard]] nlohmann::json step_trace(const StepOutcome& step);

/// Link counter tracks per plane at most: the links that carried the most bytes get one (ties:
/// lowest link index); the others are named in a "link tracks" marker and still counted in the
/// plane's "in flight" counter. Keeps a 320-die system's trace small.
constexpr size_t kMaxLinkTracks = 48;

/// A network-only run: one process for `plane`, one track named `track` holding the named
/// intervals (seconds), and the plane's rate counters from `rates` (NetworkModule::rate_log).
struct TraceSpan {
  std::string name;
  double start = 0, end = 0;
};
[[nodiscard]] nlohmann::json network_trace(const Plane& plane, const std::string& track,
                                           const std::vector<TraceSpan>& spans,
                                           const std::vector<RateChange>& rates);

}  // namespace orrery
