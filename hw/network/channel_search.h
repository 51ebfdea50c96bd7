// How many channels a collective runs on, derived from the links its ring crosses, as NCCL's
// topology search does it (github.com/NVIDIA/nccl, src/graph/search.cc: ncclTopoCompute and
// ncclTopoDupChannels; src/graph/topo.h: the per-link NVLink bandwidth it credits).
//
// NCCL looks for as many rings as it can at one speed s (GB/s per ring), trying the speeds of
// a fixed ladder from the fastest the path allows downwards. A ring reserves s on every link
// it crosses, so on a path whose narrowest link NCCL credits with B it fits
//
//   n(s) = min(floor(B / s), max_rings)                       (max_rings = MAXCHANNELS/2 = 32)
//
// and it keeps the speed with the largest n(s)·s (ties: the faster speed, found first). It
// stops early when n = max_rings or n·s ≥ B, and goes down the ladder only while the next
// speed is more than 0.49 of the best found. It then doubles the rings into 2n channels of
// s/2 (ncclTopoDupChannels), unless s < 25 GB/s, or (SM90) s < 50 GB/s with more than 4 rings.
//
//   channels = 2n (or n),   one channel moves s/2 (or s) × speed_factor
//
// B is what NCCL credits the path's narrowest link with: link bandwidth × link_efficiency
// (NVLink4: 20.6 of 25 GB/s per link, SM90_NVLINK_BW). speed_factor is this model's one fitted
// number: what one channel measurably moves over the speed the search assigned it.
//
// The result depends on the path of each ring, so a 2-GPU group and an 8-GPU group on the same
// plane get their own ceiling from their own links; on one NVSwitch every GPU reaches every
// other through its own port, so the two get the same (docs/models.md §7.5).
#pragma once
#include <vector>

namespace orrery {

/// The search's inputs on a plane (physical constants; see docs/models.md §7.5).
struct ChannelSearch {
  std::vector<double> speeds;  // bytes/s per ring, fastest first (NCCL's speed ladder)
  double link_efficiency = 1;  // fraction of a link's bandwidth the search credits
  double speed_factor = 1;     // what a channel moves / the speed the search gave it
};

/// Channels a collective runs on and what one of them moves per direction (bytes/s).
struct ChannelPlan {
  int channels = 0;
  double bandwidth = 0;
  int rings = 0;           // rings found before doubling
  double ring_speed = 0;   // their speed (bytes/s)
  [[nodiscard]] double rate() const { return channels * bandwidth; }
};

/// NCCL's ring search on a path whose narrowest link has bandwidth `link_bandwidth` (bytes/s,
/// before link_efficiency). No ring fits (B below the slowest speed): one channel at B.
[[nodiscard]] ChannelPlan search_channels(const ChannelSearch& search, double link_bandwidth);

}  // namespace orrery
