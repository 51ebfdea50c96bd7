// What a network plane carried over time, for the trace: the fluid model's rates change only
// when the max-min solver re-allocates them (a flow starts or ends), so a log of those changes
// — one entry per link whose load moved — rebuilds every link's bytes/s exactly as a
// piecewise-constant function of time. Recorded only when a trace is asked for.
#pragma once
#include <utility>
#include <vector>

namespace orrery {

/// The series a change belongs to: a directed link (LinkId::index()) or, for kPlaneTotal, the
/// bytes/s the plane's flows carry together (each flow counted once, not once per hop).
constexpr int kPlaneTotal = -1;

/// At `time` (seconds) the rate of series `link` changed by `delta` bytes/s.
struct RateChange {
  double time = 0;
  int link = kPlaneTotal;
  double delta = 0;
};

/// One series rebuilt from the changes: the value (bytes/s) from each point's time on, only
/// where it changes, starting from 0 and ending at 0; `bytes` is its integral over time and
/// `peak` its largest value.
struct RateSeries {
  int link = kPlaneTotal;
  std::vector<std::pair<double, double>> points;
  double bytes = 0;
  double peak = 0;
};

/// The plane total first, then every link whose rate was ever non-zero, by link index. The
/// changes are applied in time order (changes logged for the same instant are merged); a
/// value within 1e-9 of the series' peak of zero is zero, and one within 1e-9 of the peak of
/// the previous value is that value (the rounding left by + then −).
[[nodiscard]] std::vector<RateSeries> rate_series(std::vector<RateChange> log);

}  // namespace orrery
