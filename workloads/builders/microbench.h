// Micro-benchmark workloads: single kernels called `repeat` times back to back, as a timing
// loop in PyTorch does. Used to calibrate and validate a device preset.
#pragma once
#include <vector>

#include "sim/core/op.h"
#include "sim/core/record.h"
#include "workloads/workload.h"

namespace orrery {

/// Each MicroOp becomes `repeat` identical ops (iteration = row index); the last one syncs.
[[nodiscard]] OpGraph build_microbench(const WorkloadSpec& w);

/// Seconds per call of each row, as CUDA events around one call on an idle device measure it:
/// from the host starting to issue the call to its last kernel finishing, averaged over all
/// calls but the first (warm-up).
[[nodiscard]] std::vector<double> microbench_times(const WorkloadSpec& w,
                                                   const std::vector<OpRecord>& records);

}  // namespace orrery
