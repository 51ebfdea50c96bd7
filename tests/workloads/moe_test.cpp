// MoE routing, expert placement and the MoE layer's operators and transfers, by hand.
#include <catch2/catch.hpp>

#include <numeric>

#include "sim/config/yaml_doc.h"
#include "workloads/builders/transformer.h"
#include "workloads/moe/routing.h"
#include "workloads/workload.h"

using namespace orrery;

namespace {

MoeSpec moe(long experts, long top_k) {
  MoeSpec m;
  m.experts = experts;
  m.top_k = top_k;
  m.expert_ffn = 64;
  return m;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

WorkloadSpec workload(const std::string& yaml, int devices = 1) {
  return read_workload(load_yaml_text(yaml, "test"), "workload", devices);
}

/// gpt2-small with 8 experts (GELU MLPs of width 3072, top-2) in every layer.
const std::string kMoeDecode =
    "{model: {preset: gpt2-small, moe: {experts: 8, top_k: 2, expert_ffn: 3072}}, phase: decode, "
    "batch: 16, seq_len: 256, decode_tokens: 1, precision: bf16, framework: graph";

}  // namespace

TEST_CASE("routing_conserves_assignments_and_is_seeded", "[moe]") {
  MoeRouting r;
  const MoeSpec m = moe(64, 8);
  // Balanced: 1000 tokens x 8 experts each = 8000 assignments, 125 per expert.
  const auto even = expert_loads(r, m, 1000, 0);
  CHECK(sum(even) == Approx(8000));
  CHECK(*std::max_element(even.begin(), even.end()) == Approx(125));
  r.kind = MoeRouting::Kind::zipf;
  r.alpha = 1.2;
  const auto a = expert_loads(r, m, 1000, 3), b = expert_loads(r, m, 1000, 3), c = expert_loads(r, m, 1000, 4);
  CHECK(sum(a) == Approx(8000));
  CHECK(a == b);   // same seed and layer: the same draw
  CHECK(a != c);   // another layer: another draw
  // Skewed, but no expert gets more than one slot per token.
  CHECK(*std::max_element(a.begin(), a.end()) > 2 * 125);
  CHECK(*std::max_element(a.begin(), a.end()) <= 1000);
}

TEST_CASE("histogram_routing_follows_the_given_loads", "[moe]") {
  const MoeSpec m = moe(4, 1);
  const MoeRouting r = read_moe_routing(load_yaml_text("{routing: histogram, loads: [1, 1, 2, 4]}", "t"), "moe", m);
  const auto l = expert_loads(r, m, 80000, 0);
  CHECK(sum(l) == Approx(80000));
  CHECK(l[3] / l[0] == Approx(4).epsilon(0.05));  // multinomial noise ~1% at these counts
  CHECK_THROWS(read_moe_routing(load_yaml_text("{routing: histogram, loads: [1, 2]}", "t"), "moe", m));
}

TEST_CASE("placement_conserves_load_and_redundant_copies_halve_the_hottest", "[moe]") {
  // Expert 0 is hot: 400 of 1000 assignments; 4 ranks, 8 experts.
  const std::vector<double> loads = {400, 100, 100, 100, 100, 100, 50, 50};
  const ExpertPlacement plain = place_experts(loads, 4, 0, 0, 0);
  CHECK(sum(plain.rank_load) == Approx(1000));
  CHECK(plain.max_load() == Approx(450));   // the hot expert's rank also gets a 50
  CHECK(plain.mean_load() == Approx(250));
  const ExpertPlacement eplb = place_experts(loads, 4, 1, 0, 0);  // a second copy of expert 0
  CHECK(sum(eplb.rank_load) == Approx(1000));
  CHECK(eplb.max_load() < plain.max_load());
  for (int n : eplb.experts_on_rank) CHECK(n <= 3);  // ceil(9 slots / 4 ranks)
  // Shared-expert replicas come first, one per rank.
  const ExpertPlacement shared = place_experts(loads, 4, 0, 2, 500);
  CHECK(sum(shared.rank_load) == Approx(2000));
}

TEST_CASE("expert_parallel_dispatch_and_combine_carry_the_routed_bytes", "[moe]") {
  // 16 tokens per rank, top-2, hidden 768, bf16: a rank dispatches 16 x 2 rows of 768 x 2 B.
  const WorkloadSpec w = workload(kMoeDecode + ", parallel: {ep: 8}}", 8);
  const OpGraph g = build_graph(w);
  double dispatch = 0, combine = 0, experts_rows = 0;
  int a2a = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const Op& op = g[i];
    if (op.kind == OpKind::Comm && op.comm.op == CommKind::AllToAllV) {
      ++a2a;
      CHECK(op.comm.group == CommGroup::Expert);
      REQUIRE(op.comm.shares);
      CHECK(op.comm.shares->size() == 8);
      CHECK(sum(*op.comm.shares) == Approx(1));
      (op.comm.reverse ? combine : dispatch) += op.comm.bytes;
    }
    if (op.name.find("experts.gate_up") != std::string::npos) experts_rows += op.gemm.m * op.gemm.batch;
  }
  CHECK(a2a == 2 * 12);  // dispatch and combine in each of gpt2-small's 12 layers
  CHECK(dispatch == Approx(12 * 16 * 2 * 768 * 2.0));
  CHECK(combine == Approx(dispatch));
  // Balanced routing: the busiest rank computes the mean, 16 x 2 assignments (8 ranks x 16
  // tokens x 2 / 8 ranks) per layer.
  CHECK(experts_rows == Approx(12 * 16 * 2));
}

TEST_CASE("int8_dispatch_sends_hidden_bytes_plus_a_scale_slot", "[moe]") {
  const WorkloadSpec w = workload(kMoeDecode + ", parallel: {ep: 8}, moe: {dispatch: int8}}", 8);
  const OpGraph g = build_graph(w);
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].kind == OpKind::Comm && !g[i].comm.reverse) {
      CHECK(g[i].comm.bytes == Approx(16 * 2 * (768 + 512.0)));  // 7,168 + 512 for DeepSeek
      break;
    }
}

TEST_CASE("fp8_dispatch_sends_hidden_bytes_plus_one_fp32_scale_per_128_values", "[moe]") {
  const WorkloadSpec w = workload(kMoeDecode + ", parallel: {ep: 8}, moe: {dispatch: fp8}}", 8);
  const OpGraph g = build_graph(w);
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].kind == OpKind::Comm && !g[i].comm.reverse) {
      CHECK(g[i].comm.bytes == Approx(16 * 2 * (768 + 768 / 128 * 4.0)));  // 7,168 + 224 for DeepSeek
      break;
    }
}

TEST_CASE("one_device_runs_every_expert_and_reads_only_the_experts_that_got_tokens", "[moe]") {
  // Batch 1, top-2 of 8: about 2 experts' weights are read, not 8.
  const WorkloadSpec w = workload(kMoeDecode + "}");
  WorkloadSpec one = w;
  one.batch = 1;
  const OpGraph g = build_graph(one);
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].name == "h0.moe.experts.gate_up") {
      CHECK(g[i].gemm.batch == Approx(8 * (1 - std::exp(-2.0 / 8))).epsilon(1e-9));  // 1.77 experts
      CHECK(g[i].gemm.m * g[i].gemm.batch == Approx(2));                               // 2 rows in all
    }
}

TEST_CASE("moe_workload_errors_name_the_key", "[moe]") {
  CHECK_THROWS_WITH(workload("{model: gpt2-small, phase: decode, decode_tokens: 1, moe: {routing: zipf}}"),
                    Catch::Contains("has no experts"));
  CHECK_THROWS_WITH(workload("{model: gpt2-small, phase: decode, decode_tokens: 1, parallel: {ep: 2}}", 2),
                    Catch::Contains("has no experts"));
  CHECK_THROWS_WITH(workload(kMoeDecode + ", parallel: {ep: 3}}", 8), Catch::Contains("does not divide dp"));
  CHECK_THROWS_WITH(workload("{model: {preset: gpt2-small, moe: {experts: 8, top_k: 2, expert_ffn: 64}}, phase: train}"),
                    Catch::Contains("not modelled yet"));
}
