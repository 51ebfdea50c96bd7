// Micro-benchmark workloads: single kernels called `repeat` times back to back, as a timing
// loop in PyTorch does. Used to calibrate and validate a device preset.
#pragma once
#include <vector>

#include "sim/core/op.h"
#include "sim/core/record.h"
#include "workloads/workload.h"

namespace orrery {

/// Each MicroOp becomes `repeat` identical calls (iteration = row index), each synchronised.
/// graph: each of the `repeat` is a replay of a graph of graph_calls back-to-back calls.
[[nodiscard]] OpGraph build_microbench(const WorkloadSpec& w);

/// Seconds per call of each row, as CUDA events around one call on an idle device measure it:
/// from the host starting to issue the call to its last kernel finishing, averaged over all
/// calls but the first (warm-up). graph: device time of a replay (first kernel's start, graph
/// start included, to last kernel's end) / graph_calls, averaged over all replays but the first.
[[nodiscard]] std::vector<double> microbench_times(const WorkloadSpec& w,
                                                   const std::vector<OpRecord>& records);

}  // namespace orrery
