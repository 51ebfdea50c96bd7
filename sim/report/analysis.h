// Turns the executor's op records into the numbers users read: step time, throughput, MFU,
// per-resource busy fraction and share of the critical path.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "sim/exec/executor.h"
#include "sim/exec/op.h"

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
[[nodiscard]] StepWindow last_step(const OpGraph& g, const SimResult& r);

/// Busy fraction and critical-path share of every resource in the window, largest share first.
[[nodiscard]] std::vector<Bottleneck> bottlenecks(const OpGraph& g, const SimResult& r,
                                                  const StepWindow& w);

/// Matrix FLOPs (GEMM + attention) in the window.
[[nodiscard]] double window_matrix_flops(const OpGraph& g, const StepWindow& w);

}  // namespace orrery
