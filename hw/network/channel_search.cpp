#include "hw/network/channel_search.h"

#include <algorithm>
#include <cmath>

namespace orrery {

namespace {
// NCCL constants (src/include/device.h, src/graph/search.cc): ring graphs hold at most
// MAXCHANNELS / 2 = 32 rings; the doubling thresholds are in GB/s.
constexpr int kMaxRings = 32;
constexpr double kGB = 1e9;
constexpr double kDupMinSpeed = 25 * kGB;      // bwIntra < 25: not doubled
constexpr double kDupManyRingsSpeed = 50 * kGB;  // SM90: bwIntra < 50 with > 4 rings: not doubled
constexpr int kDupManyRings = 4;
constexpr double kNextSpeedRatio = 0.49;        // go down the ladder while next / best > 0.49
}  // namespace

ChannelPlan search_channels(const ChannelSearch& search, double link_bandwidth) {
  const double b = link_bandwidth * search.link_efficiency;  // B: what the search credits
  ChannelPlan plan;
  size_t i = 0;
  while (i + 1 < search.speeds.size() && search.speeds[i] > b) ++i;  // fastest speed <= B
  for (; i < search.speeds.size(); ++i) {
    const double s = search.speeds[i];
    // n(s) = min(floor(B / s), max_rings); kept if n·s beats the best so far.
    // Capped before the conversion: B / s can exceed any int (10 PB/s over a 1 kB/s speed).
    const int n = static_cast<int>(std::min<double>(kMaxRings, std::floor(b / s + 1e-9)));
    if (n > 0 && n * s > plan.rings * plan.ring_speed) {
      plan.rings = n;
      plan.ring_speed = s;
    }
    if (n == kMaxRings || (plan.rings > 0 && plan.rings * plan.ring_speed >= b)) break;
    if (i + 1 < search.speeds.size() && plan.rings > 0 && search.speeds[i + 1] / plan.ring_speed <= kNextSpeedRatio)
      break;
  }
  if (plan.rings == 0) return {1, b * search.speed_factor, 0, b};  // slower than every ring speed
  // ncclTopoDupChannels: 2n channels of s/2 unless s < 25, or s < 50 with more than 4 rings.
  const bool dup = plan.ring_speed >= kDupMinSpeed &&
                   !(plan.ring_speed < kDupManyRingsSpeed && plan.rings > kDupManyRings);
  const int channels = dup ? std::min(2 * plan.rings, kMaxRings) : plan.rings;
  const double per_channel = plan.ring_speed / std::ceil(static_cast<double>(channels) / plan.rings);
  plan.channels = channels;
  plan.bandwidth = per_channel * search.speed_factor;
  return plan;
}

}  // namespace orrery
