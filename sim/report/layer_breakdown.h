// Where the time of a MoE model's layers goes on the reported (busiest) rank: per MoE layer,
// attention, gate, dispatch, experts, combine and the rest; how much of the dispatch and
// combine no kernel hides (exposed); and, with micro-batch overlap, how long both core
// partitions compute at once.
#pragma once
#include <nlohmann/json.hpp>

#include "sim/report/report.h"

namespace orrery {

/// Ops of MoE layers are classified by name (`h<l>.attn.*`, `.moe.gate`, `.moe.dispatch`,
/// `.moe.experts.*`, ...): the sum of their durations over the step divided by the MoE layers
/// (so overlapping micro-batches count each op once, and the parts can add up to more than the
/// layer's share of the step). exposed_comm_s: the time the rank's expert transfers are in
/// flight while no engine of the rank runs a kernel. overlap_s: the time kernels run on both
/// core partitions at once (0 without `overlap`).
[[nodiscard]] nlohmann::json layer_breakdown(const RankResult& rank, const StepWindow& window,
                                             long moe_layers);

}  // namespace orrery
