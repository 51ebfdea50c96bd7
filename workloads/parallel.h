// How a workload is spread over ranks: data, tensor (Megatron, optionally sequence-parallel)
// and pipeline parallelism, ZeRO-1 and gradient accumulation, and where each rank sits.
//
// Expert parallelism reuses the data-parallel ranks (DeepSeek / CloudMatrix-Infer: attention
// data-parallel, experts spread over the same devices): an expert group is `ep` consecutive
// data-parallel replicas of one (t, p); dp must be a multiple of ep.
//
// Attention layout (`attention:`): dp runs each rank's attention on its own tokens (today's
// default; DeepSeek decode, CloudMatrix-Infer decode). sp_tp_sp is CloudMatrix-Infer's MLA
// prefill split over an attention group of `attention_group` consecutive data-parallel ranks of
// one (t, p): the latent down-projections on each rank's own tokens (sequence parallel), an
// all-gather of the latents, the up-projections and attention with the heads split over the
// group (tensor parallel), an all-to-all back to each rank's own tokens for the output
// projection (sequence parallel); see workloads/blocks/mla_attention.h.
//
// Rank layout (Megatron-LM order, tensor-parallel fastest):
//   rank = t + tp * (d + dp * p)      t < tp, d < dp, p < pp
// so a tensor-parallel group is `tp` consecutive devices (inside a node when tp <= its size).
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"
#include "sim/core/comm.h"

namespace orrery {

/// How attention is spread over the data-parallel ranks (see above).
enum class AttentionLayout { dp, sp_tp_sp };

struct ParallelSpec {
  int dp = 1, tp = 1, pp = 1;
  int ep = 1;                 // expert parallelism: MoE experts spread over ep data-parallel ranks
  bool sp = false;            // Megatron sequence parallelism (needs tp > 1)
  int microbatches = 1;       // pipeline micro-batches per forward-backward pass (1F1B)
  int zero = 0;               // 0: replicated optimizer; 1: ZeRO-1 sharded optimizer state
  double bucket_bytes = 25.0 * 1024 * 1024;  // DDP gradient bucket (bucket_cap_mb = 25)
  bool all_ranks = false;     // simulate every rank instead of one per distinct role
  AttentionLayout attention = AttentionLayout::dp;
  int attention_group = 1;    // sp_tp_sp: consecutive data-parallel ranks sharing their tokens

  [[nodiscard]] int ranks() const { return dp * tp * pp; }
};

[[nodiscard]] const ParamTable& parallel_params();
/// Reads `parallel:`; an absent dp fills the system (devices / (tp * pp)).
[[nodiscard]] ParallelSpec read_parallel(const YAML::Node& node, const std::string& path,
                                         int devices);

/// Coordinates of a rank.
struct RankCoord {
  int t = 0, d = 0, p = 0;
};
[[nodiscard]] RankCoord coord_of(const ParallelSpec& s, int rank);
[[nodiscard]] int rank_of(const ParallelSpec& s, RankCoord c);

/// The group of `kind` (sim/core/comm.h); pipeline stages form a ring (the last stage's next is
/// the first: generated tokens go back to it).
/// Members of the group of `kind` that `rank` belongs to, in ring order.
[[nodiscard]] std::vector<int> group_of(const ParallelSpec& s, CommGroup kind, int rank);

}  // namespace orrery
