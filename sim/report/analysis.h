// Turns the simulation's op records into the numbers users read: step time, throughput, MFU,
// per-resource busy fraction and share of the critical path.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "sim/run/simulation.h"

namespace orrery {

struct Bottleneck {
  std::string resource;
  double busy_s = 0;
  double busy_fraction = 0;      // busy time / step time
  double critical_s = 0;
  double critical_share = 0;     // share of the critical path
};

struct StepWindow {
  double start = 0, end = 0;     // the reported (last) iteration
  int iteration = 0;
  [[nodiscard]] double length() const { return end - start; }
};

/// The last iteration's window: from the host issuing its first op to its last op finishing
/// (every step ends with a host sync, so this is what CUDA events around the step measure).
[[nodiscard]] StepWindow last_step(const RankResult& r);

/// Busy fraction and critical-path share of every resource in the window, largest share first.
[[nodiscard]] std::vector<Bottleneck> bottlenecks(const RankResult& r, const StepWindow& w);

/// Matrix FLOPs (GEMM + attention) in the window.
[[nodiscard]] double window_matrix_flops(const OpSource& ops, const StepWindow& w);

}  // namespace orrery

namespace orrery {

/// Length of the union of intervals, and of the part of `a`'s union not covered by `b`'s.
struct Overlap {
  double a = 0, exposed = 0;
};
[[nodiscard]] Overlap interval_overlap(std::vector<std::pair<double, double>> a,
                                       std::vector<std::pair<double, double>> b);

/// What one rank did in its reported step.
struct RankActivity {
  StepWindow window;
  double compute_s = 0;    // union of kernel intervals in the window
  double comm_s = 0;       // union of network-op intervals in the window
  double exposed_s = 0;    // network time with no kernel running
  double recv_wait_s = 0;  // pipeline receives: waiting for the previous stage (the bubble)
};
[[nodiscard]] RankActivity rank_activity(const RankResult& r);

}  // namespace orrery
