// Runs a model workload spread over ranks (data, tensor and pipeline parallel): one host and
// one device model per simulated rank, the network planes, and the hub that runs their
// collectives; then the report with per-rank step times, exposed vs overlapped communication
// and per-plane and per-link utilisation.
#pragma once
#include "sim/run.h"

namespace orrery {

[[nodiscard]] RunOutput execute_parallel(const LoadedRun& run, bool want_trace);

/// Length of the union of intervals, and of the part of `a`'s union not covered by `b`'s.
struct Overlap {
  double a = 0, exposed = 0;
};
[[nodiscard]] Overlap interval_overlap(std::vector<std::pair<double, double>> a,
                                       std::vector<std::pair<double, double>> b);

}  // namespace orrery
