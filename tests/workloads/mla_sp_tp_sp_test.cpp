// MLA's prefill split SP -> TP -> SP (`parallel.attention: sp_tp_sp`): the two transfers' sizes
// by hand on a small model, FLOP conservation against the dp layout, the streams the ops land
// on, the per-rank weight share in the memory plan, and the configuration errors.
//
// The small model: d = 256, h = 8 heads, q_lora_rank r_q = 64, kv_lora_rank r_kv = 32,
// qk_nope d_n = 16, qk_rope d_r = 8, v d_v = 16 (d_qk = 24); bf16 (2 B). A rank holds B = 2
// sequences of S = 64 tokens, T = 128; the attention group has g = 4 ranks of dp = 8.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

#include "sim/config/yaml_doc.h"
#include "tests/support/run_cli.h"
#include "workloads/blocks/mla_attention.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/builders/transformer.h"
#include "workloads/memory_plan.h"
#include "workloads/parallel.h"

using namespace orrery;
using namespace orrery::transformer;

namespace {

const std::string kModel =
    "model: {name: mla-tiny, layers: 2, hidden: 256, heads: 8, ffn: 512, vocab: 1000, max_positions: 4096, "
    "norm: rmsnorm, mlp: swiglu, bias: false, rotary_fraction: 1, tied_embeddings: false, "
    "learned_positions: false, mla: {q_lora_rank: 64, kv_lora_rank: 32, qk_nope_head_dim: 16, "
    "qk_rope_head_dim: 8, v_head_dim: 16}}";

WorkloadSpec workload(const std::string& parallel, int devices = 8, const std::string& extra = "") {
  return read_workload(load_yaml_text("{" + kModel + ", phase: prefill, batch: 2, seq_len: 64, precision: bf16, "
                                      "weights: bf16, framework: graph, parallel: " + parallel + extra + "}",
                                      "test.yaml"),
                       "workload", devices);
}

const char* kSplit = "{attention: sp_tp_sp, attention_group: 4}";
const char* kDp = "{}";

Steps block(const WorkloadSpec& w) {
  const BlockContext c(w, 0);
  Steps prog;
  mla_attention_block(c, prog, "h0", c.dims(2, 64), {});
  return prog;
}

std::map<std::string, Op> forward_ops(const Steps& prog) {
  std::map<std::string, Op> ops;
  for (const Step& s : prog)
    if (!s.fwd.name.empty()) ops[s.fwd.name] = s.fwd;
  return ops;
}

/// FLOPs of the block's forward ops of one kind.
double flops_of(const Steps& prog, OpKind kind) {
  double f = 0;
  for (const Step& s : prog)
    if (s.fwd.kind == kind) f += s.fwd.flops;
  return f;
}

double item(const MemoryPlan& plan, const std::string& name) {
  for (const MemoryItem& it : plan.items)
    if (it.name == name) return it.bytes;
  return 0;
}

}  // namespace

TEST_CASE("sp_tp_sp_collectives_carry_the_latents_and_the_head_outputs", "[mla][sp_tp_sp]") {
  const WorkloadSpec w = workload(kSplit);
  CHECK(w.parallel.attention == AttentionLayout::sp_tp_sp);
  CHECK(w.parallel.attention_group == 4);
  const auto ops = forward_ops(block(w));
  // All-gather of [c_q, c_kv, k_r] = 64 + 32 + 8 = 104 values per token, output over the group:
  // 4 ranks x 128 tokens x 104 x 2 B = 106,496 B (nccl-tests size: the output buffer).
  const Op& ag = ops.at("h0.attn.latent_all_gather");
  CHECK(ag.comm.op == CommKind::AllGather);
  CHECK(ag.comm.group == CommGroup::Attention);
  CHECK(ag.comm.bytes == 106'496.0);
  // All-to-all of the attention outputs: 512 tokens x 2 heads x 16 x 2 B = 32,768 B held per
  // rank (= its 128 tokens x 8 heads x 16 x 2 B), 8,192 B to each of the 3 peers.
  const Op& a2a = ops.at("h0.attn.heads_all_to_all");
  CHECK(a2a.comm.op == CommKind::AllToAll);
  CHECK(a2a.comm.group == CommGroup::Attention);
  CHECK(a2a.comm.bytes == 32'768.0);
  // Stage 1 on the rank's own 128 tokens, stage 2 on the group's 512 with 2 heads, stage 3 on 128.
  CHECK(ops.at("h0.attn.q_a").gemm.m == 128);
  CHECK(ops.at("h0.attn.kv_a").gemm.m == 128);
  CHECK(ops.at("h0.attn.q_b").gemm.m == 512);
  CHECK(ops.at("h0.attn.q_b").gemm.n == 2 * 24);
  CHECK(ops.at("h0.attn.kv_b").gemm.m == 512);
  CHECK(ops.at("h0.attn.kv_b").gemm.n == 2 * (16 + 16));
  CHECK(ops.at("h0.attn.sdpa").attn.batch == 8);  // the group's 4 x 2 sequences
  CHECK(ops.at("h0.attn.sdpa").attn.heads == 2);
  CHECK(ops.at("h0.attn.o").gemm.m == 128);
  CHECK(ops.at("h0.attn.o").gemm.k == 8 * 16);  // all heads
  // The group: 4 consecutive data-parallel ranks.
  CHECK(group_of(w.parallel, CommGroup::Attention, 5) == std::vector<int>{4, 5, 6, 7});
  CHECK(group_of(w.parallel, CommGroup::Attention, 0) == std::vector<int>{0, 1, 2, 3});
  // The dp layout has no transfer in its attention.
  for (const auto& [name, op] : forward_ops(block(workload(kDp)))) CHECK(op.kind != OpKind::Comm);
}

TEST_CASE("sp_tp_sp_conserves_the_attention_flops_of_the_dp_layout", "[mla][sp_tp_sp]") {
  const Steps split = block(workload(kSplit)), dp = block(workload(kDp));
  // Over the group, 4 ranks x (512 tokens x 2 heads) = 4 ranks x (128 tokens x 8 heads): the
  // GEMMs and the attention kernel do the dp layout's work exactly.
  const double g = 4;
  CHECK(g * flops_of(split, OpKind::Gemm) == g * flops_of(dp, OpKind::Gemm));
  CHECK(g * flops_of(split, OpKind::Attention) == g * flops_of(dp, OpKind::Attention));
  // By hand, per rank: 2 T (d r_q + d (r_kv + d_r) + r_q h d_qk + r_kv h (d_n + d_v) + h d_v d)
  const double T = 128, d = 256, h = 8;
  CHECK(flops_of(split, OpKind::Gemm) == 2 * T * (d * 64 + d * 40 + 64 * h * 24 + 32 * h * 32 + h * 16 * d));
  // causal attention: B h S^2 / 2 scores x 2 (d_qk + d_v) FLOPs
  CHECK(flops_of(split, OpKind::Attention) == 2 * h * (64.0 * 64 / 2) * 2 * (24 + 16));
  // What the split repeats on every rank: RoPE of the shared k_r over the group's tokens,
  // (g - 1) T d_r more elements than dp.
  const auto s = forward_ops(split), p = forward_ops(dp);
  CHECK(s.at("h0.attn.rope").bytes - p.at("h0.attn.rope").bytes == (g - 1) * T * 8 * 10 * 2);
}

TEST_CASE("sp_tp_sp_ops_land_on_the_attention_stream_in_program_order", "[mla][sp_tp_sp]") {
  // One stream: the transfers sit in the main chain (stream 0) between their stages.
  const OpGraph g = build_graph(workload(kSplit));
  std::map<std::string, OpId> at;
  for (OpId i = 0; i < g.size(); ++i)
    if (g[i].layer == 0) at[g[i].name] = i;
  REQUIRE(at.count("h0.attn.latent_all_gather"));
  REQUIRE(at.count("h0.attn.heads_all_to_all"));
  CHECK(g[at["h0.attn.latent_all_gather"]].stream == 0);
  CHECK(g[at["h0.attn.heads_all_to_all"]].stream == 0);
  CHECK(at["h0.attn.kv_norm"] < at["h0.attn.latent_all_gather"]);
  CHECK(at["h0.attn.latent_all_gather"] < at["h0.attn.q_b"]);
  CHECK(at["h0.attn.sdpa"] < at["h0.attn.heads_all_to_all"]);
  CHECK(at["h0.attn.heads_all_to_all"] < at["h0.attn.merge_heads"]);
  // Each depends on the op before it (the chain): q_b waits for the gather's data.
  const auto depends = [&](OpId id, OpId on) {
    const auto [b, e] = g.deps(id);
    return std::find(b, e, on) != e;
  };
  // (q_b's input is quantised first only for int8/fp8 matmuls; bf16 here: q_b follows at once.)
  CHECK(depends(at["h0.attn.q_b"], at["h0.attn.latent_all_gather"]));
  CHECK(depends(at["h0.attn.merge_heads"], at["h0.attn.heads_all_to_all"]));

  // Micro-batch overlap: the transfers are part of the attention half, on its stream (11) and
  // core partition (1); the feed-forward half keeps its own (100, 2).
  const OpGraph o = build_graph(workload("{attention: sp_tp_sp, attention_group: 4, microbatches: 2}", 8,
                                         ", overlap: {attention: {matrix_units: 16, vector_units: 32}, "
                                         "ffn: {matrix_units: 8, vector_units: 16}}"));
  int seen = 0;
  for (OpId i = 0; i < o.size(); ++i) {
    const std::string& n = o[i].name;
    if (n == "h0.attn.latent_all_gather" || n == "h0.attn.heads_all_to_all" || n == "h0.attn.sdpa") {
      CHECK(o[i].stream == 11);
      CHECK(o[i].partition == 1);
      ++seen;
    }
    if (n == "h0.mlp.down_proj") CHECK(o[i].stream == 100);
  }
  CHECK(seen == 2 * 3);  // two micro-batches
}

TEST_CASE("sp_tp_sp_memory_plan_holds_a_share_of_the_up_projections", "[mla][sp_tp_sp][memory]") {
  const MemoryPlan split = plan_memory(workload(kSplit)), dp = plan_memory(workload(kDp));
  // W_UQ 64 x 8 x 24 = 12,288 and W_UKV 32 x 8 x 32 = 8,192 per layer; a rank keeps 1/4:
  // 2 layers x 20,480 x 3/4 = 30,720 parameters fewer, x 2 B.
  CHECK(mla_head_split_weights(workload(kDp).model) == 20'480.0);
  CHECK(item(dp, "weights") - item(split, "weights") == 30'720.0 * 2);
  // The gathered latents: 4 x 128 tokens x 104 x 2 B, absent from the dp plan.
  CHECK(item(split, "gathered_latents") == 106'496.0);
  CHECK(item(dp, "gathered_latents") == 0);
  // The latent KV cache is each rank's own tokens in both layouts.
  CHECK(item(split, "kv_cache") == item(dp, "kv_cache"));

  // DeepSeek-R1 prefill on 32 dies: W_UQ 1536 x 128 x 192 + W_UKV 512 x 128 x 256 per layer,
  // int8 weights: 61 x 54,525,952 x 31/32 B less per die (3.22 GB).
  const auto r1 = [](const std::string& attention) {
    return plan_memory(read_workload(
        load_yaml_text("{model: deepseek-r1, phase: prefill, batch: 2, seq_len: 4096, precision: int8, weights: int8, "
                       "framework: graph, parallel: {ep: 32" + attention + "}, moe: {dispatch: int8, redundant_experts: 32}}",
                       "r1.yaml"),
        "workload", 32));
  };
  CHECK(item(r1(""), "weights") - item(r1(", attention: sp_tp_sp"), "weights") ==
        Approx(61.0 * (1536.0 * 128 * 192 + 512.0 * 128 * 256) * 31 / 32));
}

TEST_CASE("sp_tp_sp_configuration_errors_name_the_key", "[mla][sp_tp_sp]") {
  // The group must divide dp (8) and the heads (8).
  CHECK_THROWS_WITH(workload("{attention: sp_tp_sp, attention_group: 3}"), Catch::Contains("does not divide dp = 8"));
  CHECK_THROWS_WITH(workload("{attention: sp_tp_sp, attention_group: 16}", 16),
                    Catch::Contains("does not divide the model's 8 attention heads"));
  // 0: every data-parallel rank; a lone rank is no group.
  CHECK(workload("{attention: sp_tp_sp}").parallel.attention_group == 8);
  CHECK_THROWS_WITH(workload("{attention: sp_tp_sp}", 1), Catch::Contains("at least 2 ranks"));
  CHECK_THROWS_WITH(workload("{attention: sp_tp_sp, tp: 2}"), Catch::Contains("use tp = 1"));
  CHECK_THROWS_WITH(workload("{attention_group: 4}"), Catch::Contains("applies to attention: sp_tp_sp only"));
  // Prefill only, MLA only, with a query latent.
  CHECK_THROWS_WITH(read_workload(load_yaml_text("{" + kModel + ", phase: decode, decode_tokens: 1, "
                                                 "parallel: {attention: sp_tp_sp}}", "t.yaml"), "workload", 8),
                    Catch::Contains("phase decode runs attention as dp"));
  CHECK_THROWS_WITH(read_workload(load_yaml_text("{model: llama-3-8b, phase: prefill, parallel: {attention: sp_tp_sp}}",
                                                 "t.yaml"), "workload", 8),
                    Catch::Contains("has no mla section"));
  CHECK_THROWS_WITH(read_workload(load_yaml_text("{model: {preset: deepseek-r1, mla: {q_lora_rank: 0}}, phase: prefill, "
                                                 "parallel: {attention: sp_tp_sp}}", "t.yaml"), "workload", 8),
                    Catch::Contains("no query compression"));
}

TEST_CASE("sp_tp_sp_transfers_run_on_the_group_plane", "[mla][sp_tp_sp][cli]") {
  // The small model on 16 dies (one node) of CloudMatrix384: the attention group's transfers take time on
  // the UB plane (tensor-class traffic), and the report names the layout.
  const std::string file = orrery::test::source_path("tests/data/mla_tiny_prefill.yaml");
  const auto r = orrery::test::run_report_ops("--system cloudmatrix384 --set system.devices=16 --workload " + file +
                                             " --set workload.parallel.attention=sp_tp_sp"
                                             " --set workload.parallel.attention_group=4");
  CHECK(r["parallel"]["attention"]["layout"] == "sp_tp_sp");
  CHECK(r["parallel"]["attention"]["group"] == 4);
  CHECK(r["parallel"]["group_planes"]["attn"] == "ub");
  int transfers = 0;
  for (const auto& op : r["ops"]) {
    const std::string n = op["name"];
    if (n.find("latent_all_gather") == std::string::npos && n.find("heads_all_to_all") == std::string::npos) continue;
    CHECK(op["end_s"].get<double>() > op["start_s"].get<double>());
    ++transfers;
  }
  CHECK(transfers == 2 * 2);  // two layers
  // Bytes on the UB plane, by hand: in each of the 4 groups, per layer, every rank sends 3/4 of
  // the 106,496 B all-gather output (ring) and 3 x 8,192 B of the all-to-all; inside one node a
  // flow crosses two links (die -> L1 switch -> die). 16 ranks x 2 layers x 2 links.
  double ub = -1;
  for (const auto& p : r["planes"])
    if (p["name"] == "ub") ub = p["bytes"].get<double>();
  CHECK(ub == Approx(16.0 * 2 * 2 * (0.75 * 106'496 + 3 * 8'192)).epsilon(1e-9));
}
