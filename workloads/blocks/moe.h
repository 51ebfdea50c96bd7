// The mixture-of-experts feed-forward of one MoE layer (inference: prefill and decode), as
// serving engines run it (vLLM / SGLang fused MoE, DeepSeek's DeepEP, CloudMatrix-Infer):
//   gate GEMM -> scores and top-k -> permute (group tokens by expert) [-> quantise]
//   [-> dispatch all-to-all-v over the expert-parallel group]
//   -> experts: grouped GEMM gate+up, SwiGLU, grouped GEMM down
//   [-> combine all-to-all-v] -> un-permute and weighted sum; shared experts on the side.
// With ep > 1 the simulated rank is the most loaded rank of its expert group (the step is as
// slow as its slowest rank: every rank waits in the combine for the busiest one).
#pragma once
#include <string>

#include "workloads/blocks/attention.h"
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// What routing did to one MoE layer on the simulated rank.
struct MoeLayerLoad {
  long layer = 0;
  double tokens = 0;          // tokens this rank routes (its own batch)
  double max_assignments = 0; // (token, expert) assignments the busiest rank computes
  double mean_assignments = 0;
  double active_groups = 0;   // expert slots on the busiest rank that received tokens
  std::vector<double> shares; // share of a rank's dispatched assignments going to each rank
};
[[nodiscard]] MoeLayerLoad moe_layer_load(const BlockContext& c, double tokens, long layer);

/// The routing of every MoE layer of pipeline stage `stage` for one forward pass of the
/// workload (decode: batch / microbatches tokens; prefill: that many sequences of seq_len).
[[nodiscard]] std::vector<MoeLayerLoad> moe_loads(const WorkloadSpec& w, int stage);

/// Appends the MoE feed-forward of layer `layer` (prefix `p`) for the T tokens of `x`.
void moe_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
               const LayerCall& call, long layer);

}  // namespace orrery::transformer
