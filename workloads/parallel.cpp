#include "workloads/parallel.h"

#include <fmt/format.h>

namespace orrery {

const ParamTable& parallel_params() {
  static const ParamTable t{
      "parallel",
      "How the workload is spread over the system's devices: dp x tp x pp must equal the "
      "device count.",
      {
          {"dp", ParamType::Integer, Dim::Dimensionless, "0", "data-parallel replicas (0: devices / (tp x pp))", {}, false, 0, true},
          {"tp", ParamType::Integer, Dim::Dimensionless, "1", "tensor-parallel ranks (Megatron column/row split of attention and MLP)"},
          {"pp", ParamType::Integer, Dim::Dimensionless, "1", "pipeline stages (1F1B schedule); layers split evenly, earlier stages take the remainder"},
          {"sp", ParamType::Bool, Dim::Dimensionless, "false", "sequence parallelism with tp: norms and dropout on 1/tp of the tokens; all-reduces become all-gather + reduce-scatter"},
          {"microbatches", ParamType::Integer, Dim::Dimensionless, "1", "micro-batches per forward-backward pass; the batch is split among them"},
          {"zero", ParamType::Integer, Dim::Dimensionless, "0", "0: every replica keeps the optimizer state; 1: ZeRO-1 shards it over dp (reduce-scatter gradients, all-gather weights)", {}, false, 0, true},
          {"bucket", ParamType::Quantity, Dim::Bytes, "25 MiB", "data-parallel gradient bucket (PyTorch DDP bucket_cap_mb)"},
          {"ep", ParamType::Integer, Dim::Dimensionless, "1", "expert parallelism: MoE experts spread over groups of ep data-parallel ranks (dp must be a multiple); tokens reach their experts by all-to-all dispatch and combine"},
          {"attention", ParamType::Enum, Dim::Dimensionless, "dp", "how attention is spread over the data-parallel ranks. dp: every rank runs attention on its own tokens; sp_tp_sp: MLA prefill split (CloudMatrix-Infer) over attention_group ranks: latent down-projections on each rank's tokens, all-gather of the latents, up-projections and attention with the heads split over the group, all-to-all back to each rank's tokens for the output projection", {"dp", "sp_tp_sp"}},
          {"attention_group", ParamType::Integer, Dim::Dimensionless, "0", "sp_tp_sp: consecutive data-parallel ranks of one attention group (0: all dp ranks); must divide dp and the model's heads", {}, false, 0, true},
          {"simulate", ParamType::Enum, Dim::Dimensionless, "representatives", "representatives: one rank per pipeline stage stands for its identical peers; all: every rank (slow; same answer on symmetric networks)", {"representatives", "all"}},
      }};
  return t;
}

namespace {

/// `attention` and `attention_group` against the data-parallel ranks (the model's side, heads
/// and MLA, is checked with the workload: check_parallel in workloads/workload.cpp).
void read_attention_layout(const Section& s, ParallelSpec& p) {
  p.attention = s.string("attention") == "sp_tp_sp" ? AttentionLayout::sp_tp_sp : AttentionLayout::dp;
  const long group = s.integer("attention_group");
  if (p.attention == AttentionLayout::dp) {
    if (s.has("attention_group"))
      s.fail("attention_group", "applies to attention: sp_tp_sp only (attention is dp); remove it or set attention: sp_tp_sp");
    return;
  }
  if (p.tp > 1)
    s.fail("attention", fmt::format("sp_tp_sp splits the heads over data-parallel ranks; combining it with tp = {} is "
                                    "not modelled: use tp = 1", p.tp));
  const long g = group == 0 ? p.dp : group;
  if (g < 2)
    s.fail(group == 0 ? "attention" : "attention_group",
           fmt::format("sp_tp_sp needs an attention group of at least 2 ranks (dp = {}{})", p.dp,
                       group == 0 ? "; attention_group 0 means all of them" : ""));
  if (p.dp % g != 0)
    s.fail("attention_group", fmt::format("attention_group = {} does not divide dp = {}; an attention group is "
                                          "that many consecutive data-parallel ranks", g, p.dp));
  p.attention_group = static_cast<int>(g);
}

}  // namespace

ParallelSpec read_parallel(const YAML::Node& node, const std::string& path, int devices) {
  const Section s(node, path, parallel_params());
  ParallelSpec p;
  p.tp = static_cast<int>(s.integer("tp"));
  p.pp = static_cast<int>(s.integer("pp"));
  p.sp = s.boolean("sp");
  p.microbatches = static_cast<int>(s.integer("microbatches"));
  p.zero = static_cast<int>(s.integer("zero"));
  p.bucket_bytes = s.quantity("bucket");
  p.all_ranks = s.string("simulate") == "all";
  p.ep = static_cast<int>(s.integer("ep"));
  for (const char* k : {"tp", "pp", "microbatches", "ep"})
    if (s.integer(k) < 1) s.fail(k, "must be >= 1");
  if (p.zero != 0 && p.zero != 1) s.fail("zero", "valid: 0 (none) or 1 (ZeRO-1 optimizer sharding)");
  if (p.sp && p.tp < 2) s.fail("sp", "sequence parallelism needs tp > 1");
  if (!(p.bucket_bytes > 0)) s.fail("bucket", "must be positive");
  const long dp = s.integer("dp");
  if (dp == 0) {
    if (static_cast<long long>(p.tp) * p.pp > devices || devices % (p.tp * p.pp) != 0)
      s.fail("tp", fmt::format("tp x pp = {} does not divide the system's {} devices", static_cast<long long>(p.tp) * p.pp, devices));
    p.dp = devices / (p.tp * p.pp);
  } else {
    p.dp = static_cast<int>(dp);
  }
  if (p.dp % p.ep != 0)
    s.fail("ep", fmt::format("ep = {} does not divide dp = {}; an expert group is ep data-parallel ranks; choose an ep "
                             "that divides dp, or run on a multiple of ep x tp x pp devices (e.g. --set system.devices={})",
                             p.ep, p.dp, static_cast<long long>(p.ep) * p.tp * p.pp));
  // dp x tp x pp in 64 bits: three counts below 2^31 can overflow an int product.
  const long long product = static_cast<long long>(p.dp) * p.tp * p.pp;
  if (product != devices)
    s.fail(dp == 0 ? "tp" : "dp",
           fmt::format("dp x tp x pp = {} x {} x {} = {} but the system has {} devices; they must match",
                       p.dp, p.tp, p.pp, product, devices));
  if (p.ranks() != devices)
    s.fail(dp == 0 ? "tp" : "dp",
           fmt::format("dp x tp x pp = {} x {} x {} = {} but the system has {} devices; they must match",
                       p.dp, p.tp, p.pp, p.ranks(), devices));
  read_attention_layout(s, p);
  return p;
}

RankCoord coord_of(const ParallelSpec& s, int rank) {
  return {rank % s.tp, (rank / s.tp) % s.dp, rank / (s.tp * s.dp)};
}

int rank_of(const ParallelSpec& s, RankCoord c) { return c.t + s.tp * (c.d + s.dp * c.p); }

std::vector<int> group_of(const ParallelSpec& s, CommGroup kind, int rank) {
  const RankCoord c = coord_of(s, rank);
  std::vector<int> g;
  switch (kind) {
    case CommGroup::Tensor:
      for (int t = 0; t < s.tp; ++t) g.push_back(rank_of(s, {t, c.d, c.p}));
      break;
    case CommGroup::Data:
      for (int d = 0; d < s.dp; ++d) g.push_back(rank_of(s, {c.t, d, c.p}));
      break;
    case CommGroup::Expert:
      for (int d = c.d - c.d % s.ep; d < c.d - c.d % s.ep + s.ep; ++d) g.push_back(rank_of(s, {c.t, d, c.p}));
      break;
    case CommGroup::Attention: {
      const int a = s.attention_group, first = c.d - c.d % a;
      for (int d = first; d < first + a; ++d) g.push_back(rank_of(s, {c.t, d, c.p}));
      break;
    }
    case CommGroup::PipelineNext:
      g = {rank, rank_of(s, {c.t, c.d, (c.p + 1) % s.pp})};
      break;
    case CommGroup::PipelinePrev:
      g = {rank, rank_of(s, {c.t, c.d, (c.p - 1 + s.pp) % s.pp})};
      break;
  }
  return g;
}

}  // namespace orrery
