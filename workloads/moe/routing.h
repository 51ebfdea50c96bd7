// Where the tokens of one MoE layer go: how many (token, expert) assignments each routed
// expert receives (its load), and how the expert slots are placed on the expert-parallel ranks
// (EPLB: the hottest experts get redundant copies). The step is as slow as its slowest rank,
// so the placement's most loaded rank is what the simulation runs (docs/models.md §MoE).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"
#include "workloads/model.h"

namespace orrery {

/// The workload's `moe:` section: routing statistics and expert placement.
struct MoeRouting {
  enum class Kind { balanced, zipf, histogram };
  Kind kind = Kind::balanced;
  double alpha = 1.0;               // zipf skew: expert popularity ~ 1 / rank^alpha
  std::uint64_t seed = 1;           // sampling seed: the same inputs give the same step
  std::vector<double> histogram;    // histogram: relative load of every expert
  long redundant_experts = 0;       // extra slots holding copies of the hottest experts (EPLB)
  long shared_replicas = 0;         // 0: every rank runs the shared experts on its own tokens;
                                    // N: N ranks host them and tokens are dispatched there
  bool int8_dispatch = false;       // dispatch int8 tokens plus a 512-byte scale slot
  bool fp8_dispatch = false;        // dispatch fp8 tokens plus one fp32 scale per 128 values
  bool fused_a2a = false;           // fused dispatch/combine kernels instead of the library's
  bool hierarchical_a2a = false;    // once per destination node across nodes, forwarded inside
};

[[nodiscard]] const ParamTable& moe_routing_params();
[[nodiscard]] MoeRouting read_moe_routing(const YAML::Node& node, const std::string& path,
                                          const MoeSpec& moe);

/// Loads (token-expert assignments) of every routed expert when `tokens` tokens each choose
/// top_k distinct experts. balanced: tokens*top_k/E each. zipf / histogram: a multinomial draw
/// of tokens*top_k assignments from the popularity p (capped at 1/top_k per expert, since a
/// token picks an expert at most once), seeded by (seed, layer).
[[nodiscard]] std::vector<double> expert_loads(const MoeRouting& r, const MoeSpec& moe,
                                               double tokens, long layer);

/// Expert slots on `ranks` expert-parallel ranks and the load each rank receives.
struct ExpertPlacement {
  std::vector<double> rank_load;     // routed (and dispatched shared) assignments per rank
  std::vector<int> experts_on_rank;  // expert slots (weights held) per rank
  [[nodiscard]] double max_load() const;
  [[nodiscard]] double mean_load() const;
  [[nodiscard]] size_t busiest() const;
};
/// EPLB-style placement: the `redundant` hottest experts get a second slot and their load is
/// split between the copies; slots are then given, heaviest first, to the least loaded rank
/// with a free slot (longest-processing-time). `shared_load` is the load of each of
/// `shared_replicas` shared-expert slots, placed first one per rank.
[[nodiscard]] ExpertPlacement place_experts(const std::vector<double>& loads, long ranks,
                                            long redundant, long shared_replicas,
                                            double shared_load);

}  // namespace orrery
