#include "hw/network/rate_log.h"

#include <algorithm>
#include <cmath>

namespace orrery {

std::vector<RateSeries> rate_series(std::vector<RateChange> log) {
  // Stable: changes of one instant keep the order they were logged in (deterministic sums).
  std::stable_sort(log.begin(), log.end(), [](const RateChange& a, const RateChange& b) {
    return a.link != b.link ? a.link < b.link : a.time < b.time;
  });
  std::vector<RateSeries> out;
  for (size_t i = 0; i < log.size();) {
    RateSeries s;
    s.link = log[i].link;
    double value = 0, largest = 0;
    size_t j = i;
    std::vector<std::pair<double, double>> raw;  // (time, value after that instant)
    while (j < log.size() && log[j].link == s.link) {
      const double t = log[j].time;
      for (; j < log.size() && log[j].link == s.link && log[j].time == t; ++j) value += log[j].delta;
      largest = std::max(largest, std::abs(value));
      raw.emplace_back(t, value);
    }
    const double zero = 1e-9 * largest;
    double last_t = 0, last_v = 0;
    for (auto& [t, v] : raw) {
      if (std::abs(v) <= zero) v = 0;
      // Several solves at one instant whose changes cancel leave only rounding: no change.
      if (std::abs(v - last_v) <= 1e-9 * largest) v = last_v;
      s.bytes += last_v * (t - last_t);
      last_t = t, last_v = v;
      if (s.points.empty() ? v != 0 : v != s.points.back().second) s.points.emplace_back(t, v);
      s.peak = std::max(s.peak, v);
    }
    if (!s.points.empty() && s.points.back().second != 0) s.points.emplace_back(raw.back().first, 0.0);
    if (s.peak > 0 || s.link == kPlaneTotal) out.push_back(std::move(s));
    i = j;
  }
  if (out.empty() || out.front().link != kPlaneTotal) out.insert(out.begin(), RateSeries{});
  return out;
}

}  // namespace orrery
