#include "workloads/moe/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace orrery {

const ParamTable& moe_routing_params() {
  static const ParamTable t{
      "moe_routing",
      "The workload's `moe:` section: how tokens are routed to experts and how expert slots are placed on expert-parallel ranks.",
      {
          {"routing", ParamType::Enum, Dim::Dimensionless, "balanced", "balanced: every expert gets the same tokens; zipf: popularity ~ 1/rank^alpha, sampled; histogram: relative per-expert loads from `loads`", {"balanced", "zipf", "histogram"}},
          {"alpha", ParamType::Real, Dim::Dimensionless, "1", "zipf skew (0: uniform popularity)", {}, false, 0, true},
          {"seed", ParamType::Integer, Dim::Dimensionless, "1", "seed of the routing draw (layer l uses seed + l)", {}, false, 0, true},
          {"loads", ParamType::Any, Dim::Dimensionless, "", "histogram: one relative load per routed expert (a list of numbers)", {}, true},
          {"redundant_experts", ParamType::Integer, Dim::Dimensionless, "0", "extra expert slots holding copies of the hottest experts (EPLB)", {}, false, 0, true},
          {"shared_replicas", ParamType::Integer, Dim::Dimensionless, "0", "0: every rank runs the shared experts on its own tokens; N: N ranks host them and tokens are dispatched to them", {}, false, 0, true},
          {"a2a", ParamType::Enum, Dim::Dimensionless, "collective", "how dispatch and combine move tokens: collective (the communication library's all-to-all-v, one transfer per token and expert, throughput mode), fused (MoE kernels whose vector cores store tokens straight into peers' memory, low-latency mode; needs a plane with fused_* costs, such as cloudmatrix384's UB or h800-cluster's InfiniBand) or hierarchical (DeepEP's normal kernels: a token crosses the scale-out plane once per destination node, to the member with its local index, which forwards it on the scale-up plane inside the node; the combine sums inside the node first; with the model's group-limited routing, groups lie whole on nodes)", {"collective", "fused", "hierarchical"}},
          {"dispatch", ParamType::Enum, Dim::Dimensionless, "bf16", "dispatched token format: bf16 (2 bytes x hidden), int8 (hidden bytes + a 512-byte scale slot, as CloudMatrix-Infer) or fp8 (hidden bytes + one fp32 scale per 128 values, as DeepEP)", {"bf16", "int8", "fp8"}},
      }};
  return t;
}

MoeRouting read_moe_routing(const YAML::Node& node, const std::string& path, const MoeSpec& moe) {
  const Section s(node, path, moe_routing_params());
  MoeRouting r;
  const std::string kind = s.string("routing");
  r.kind = kind == "zipf" ? MoeRouting::Kind::zipf
           : kind == "histogram" ? MoeRouting::Kind::histogram : MoeRouting::Kind::balanced;
  r.alpha = s.real("alpha");
  r.seed = static_cast<std::uint64_t>(s.integer("seed"));
  r.redundant_experts = s.integer("redundant_experts");
  r.shared_replicas = s.integer("shared_replicas");
  r.int8_dispatch = s.string("dispatch") == "int8";
  r.fp8_dispatch = s.string("dispatch") == "fp8";
  r.fused_a2a = s.string("a2a") == "fused";
  r.hierarchical_a2a = s.string("a2a") == "hierarchical";
  if (r.kind == MoeRouting::Kind::histogram) {
    if (!s.has("loads")) s.fail("loads", "routing histogram needs `loads`: one number per routed expert");
    const YAML::Node l = s.node("loads");
    if (!l.IsSequence() || static_cast<long>(l.size()) != moe.experts)
      s.fail("loads", fmt::format("expected a list of {} numbers (one per routed expert)", moe.experts));
    for (const auto& v : l) {
      double x = -1;
      try {
        x = v.as<double>();
      } catch (const YAML::Exception&) {
      }
      if (!(x >= 0) || !std::isfinite(x)) s.fail("loads", "every load must be a finite number >= 0");
      r.histogram.push_back(x);
    }
    if (std::accumulate(r.histogram.begin(), r.histogram.end(), 0.0) <= 0) s.fail("loads", "every load is 0");
  } else if (s.has("loads")) {
    s.fail("loads", "loads is only for routing: histogram");
  }
  // A token dispatched to a shared-expert replica as well would reach one more node, which the
  // node count of hierarchical dispatch (sim/run/node_forward.h) does not model.
  if (r.shared_replicas > 0 && r.hierarchical_a2a)
    s.fail("shared_replicas", "a2a: hierarchical does not model shared-expert replicas; use shared_replicas: 0 (every rank runs the shared experts) or a2a: collective");
  if (r.shared_replicas > 0 && moe.shared_experts == 0)
    s.fail("shared_replicas", "the model has no shared expert");
  return r;
}

namespace {

/// Popularity capped at 1/k per expert (a token picks an expert at most once); the excess
/// goes to the others in proportion (water-filling).
std::vector<double> capped(std::vector<double> p, double k) {
  const double cap = 1.0 / k;
  for (int round = 0; round < 64; ++round) {
    double excess = 0, free = 0;
    for (double& x : p) {
      if (x > cap) excess += x - cap, x = cap;
      else if (x < cap) free += x;
    }
    if (excess <= 1e-15 || free <= 0) break;
    for (double& x : p)
      if (x < cap) x += excess * x / free;
  }
  return p;
}

std::vector<double> popularity(const MoeRouting& r, long experts, std::mt19937_64& rng) {
  std::vector<double> p(static_cast<size_t>(experts), 1.0);
  if (r.kind == MoeRouting::Kind::histogram) {
    p = r.histogram;
  } else {
    // Zipf over ranks, ranks assigned to experts by a seeded shuffle: which expert is hot
    // changes from layer to layer.
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < order.size(); ++i) p[order[i]] = 1.0 / std::pow(double(i + 1), r.alpha);
  }
  const double sum = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= sum;
  return p;
}

}  // namespace

std::vector<double> expert_loads(const MoeRouting& r, const MoeSpec& moe, double tokens, long layer) {
  const double k = double(moe.top_k), total = tokens * k;
  const size_t E = static_cast<size_t>(moe.experts);
  if (r.kind == MoeRouting::Kind::balanced) return std::vector<double>(E, total / double(E));
  std::mt19937_64 rng(r.seed + static_cast<std::uint64_t>(layer));
  const std::vector<double> p = capped(popularity(r, moe.experts, rng), k);
  // Multinomial(total, p) as a chain of binomials: expert e gets Binomial(left, p_e / p_left).
  std::vector<double> loads(E, 0.0);
  long long left = std::llround(total);
  double p_left = 1.0;
  for (size_t e = 0; e < E && left > 0; ++e) {
    if (e + 1 == E || p_left <= 0) {
      loads[e] = double(left);
      break;
    }
    std::binomial_distribution<long long> draw(left, std::clamp(p[e] / p_left, 0.0, 1.0));
    const long long n = draw(rng);
    loads[e] = double(n);
    left -= n;
    p_left -= p[e];
  }
  // A draw can still give an expert more assignments than there are tokens (a token picks an
  // expert at most once): move the excess to the experts with the most room, in proportion.
  double excess = 0, room = 0;
  for (double& l : loads)
    if (l > tokens) excess += l - tokens, l = tokens;
  for (double l : loads) room += tokens - l;
  if (excess > 0 && room > 0)
    for (double& l : loads) l += excess * (tokens - l) / room;
  return loads;
}

double ExpertPlacement::max_load() const {
  return rank_load.empty() ? 0.0 : *std::max_element(rank_load.begin(), rank_load.end());
}

double ExpertPlacement::mean_load() const {
  return rank_load.empty() ? 0.0
                           : std::accumulate(rank_load.begin(), rank_load.end(), 0.0) / double(rank_load.size());
}

size_t ExpertPlacement::busiest() const {
  return static_cast<size_t>(std::max_element(rank_load.begin(), rank_load.end()) - rank_load.begin());
}

ExpertPlacement place_experts(const std::vector<double>& loads, long ranks, long redundant,
                              long shared_replicas, double shared_load) {
  // Slots: every routed expert once, the `redundant` hottest twice (load split in half).
  std::vector<size_t> order(loads.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return loads[a] > loads[b]; });
  std::vector<double> slots;
  for (size_t i = 0; i < order.size(); ++i) {
    const bool twice = static_cast<long>(i) < redundant;
    slots.push_back(twice ? loads[order[i]] / 2 : loads[order[i]]);
    if (twice) slots.push_back(loads[order[i]] / 2);
  }
  std::stable_sort(slots.begin(), slots.end(), std::greater<>());
  const size_t R = static_cast<size_t>(ranks);
  const long total_slots = static_cast<long>(slots.size()) + shared_replicas;
  const int per_rank = static_cast<int>((total_slots + ranks - 1) / ranks);
  ExpertPlacement pl;
  pl.rank_load.assign(R, 0.0);
  pl.experts_on_rank.assign(R, 0);
  for (long s = 0; s < shared_replicas; ++s) {
    pl.rank_load[static_cast<size_t>(s) % R] += shared_load;
    ++pl.experts_on_rank[static_cast<size_t>(s) % R];
  }
  for (double load : slots) {
    size_t best = R;
    for (size_t r = 0; r < R; ++r)
      if (pl.experts_on_rank[r] < per_rank && (best == R || pl.rank_load[r] < pl.rank_load[best])) best = r;
    pl.rank_load[best] += load;
    ++pl.experts_on_rank[best];
  }
  return pl;
}

}  // namespace orrery
