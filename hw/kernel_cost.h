// The analytic cost of one operator on a kernel-by-kernel device (GPU, Gaudi, Ascend):
// engine time at full rate, bytes moved and where from, and the per-kernel overhead.
// The device model turns these into a duration, sharing memory bandwidth between concurrent ops.
#pragma once
#include <string>

#include "hw/device.h"
#include "sim/core/op.h"

namespace orrery {

enum class EngineKind { Matrix, Vector };

struct KernelCost {
  EngineKind engine = EngineKind::Vector;
  double compute_s = 0;       // engine time at full rate (roofline compute side; a row
                              // reduction: at least its row time, row_reduction_time)
  double bytes = 0;           // device-memory traffic
  int level = 0;              // index into DeviceSpec::memory of the level serving the bytes
  double bandwidth_cap = 0;   // most bandwidth this op can draw (few blocks -> less)
  double overhead_s = 0;      // kernels * (kernel_overhead + latency of the serving level)
  int kernels = 1;            // launches (the op's own, plus any the device's library adds)
  bool vector_bound = false;  // fused attention whose softmax work outlasts its matmuls

  /// Roofline with overhead when the op has `bandwidth` to itself:
  ///   t = overhead + max(compute_s, bytes / min(bandwidth, bandwidth_cap))
  [[nodiscard]] double duration(double bandwidth) const;
};

/// Cost of `op` on `dev`. Ops of kind Host have no device cost (throws std::logic_error).
[[nodiscard]] KernelCost kernel_cost(const DeviceSpec& dev, const Op& op);

/// Stand-alone duration of an op on an otherwise idle device (no host, no contention).
[[nodiscard]] double isolated_kernel_time(const DeviceSpec& dev, const Op& op);

}  // namespace orrery
