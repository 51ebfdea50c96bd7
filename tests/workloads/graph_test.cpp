#include <catch2/catch.hpp>

#include "sim/config/yaml_doc.h"
#include "workloads/builders/transformer.h"

using namespace orrery;

namespace {

WorkloadSpec workload(const std::string& yaml) {
  return read_workload(load_yaml_text(yaml, "test.yaml"), "workload");
}

double gemm_flops(const OpGraph& g, Pass pass) {
  double f = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].kind == OpKind::Gemm && g[i].pass == pass && g[i].iteration == 0) f += g[i].flops;
  return f;
}

}  // namespace

TEST_CASE("forward_gemm_flops_are_two_per_weight_per_token", "[graph]") {
  const WorkloadSpec w = workload("{model: gpt2-xl, phase: train, batch: 2, seq_len: 1024, iterations: 1}");
  const OpGraph g = build_graph(w);
  const double d = 1600, f = 6400, V = 50257, T = 2048;
  const double matmul_weights = 48 * (4 * d * d + 2 * d * f) + V * d;
  CHECK(gemm_flops(g, Pass::Forward) == Approx(2 * matmul_weights * T));
  // Backward computes dX and dW: twice the forward.
  CHECK(gemm_flops(g, Pass::Backward) == Approx(4 * matmul_weights * T));
}

TEST_CASE("autocast_adds_weight_casts_that_pure_bf16_does_not", "[graph]") {
  auto casts = [](const OpGraph& g) {
    int n = 0;
    for (size_t i = 0; i < g.size(); ++i) n += g[i].category == "cast";
    return n;
  };
  const OpGraph mixed = build_graph(workload("{model: gpt2, phase: prefill, logits: last}"));
  const OpGraph pure = build_graph(workload("{model: gpt2, phase: prefill, weights: bf16, logits: last}"));
  CHECK(casts(mixed) > 12 * 4);
  CHECK(casts(pure) == 1);  // only logits.float() of the sampled rows
}

TEST_CASE("decode_reads_a_growing_kv_cache", "[graph]") {
  const OpGraph g = build_graph(workload("{model: gpt2, phase: decode, seq_len: 100, decode_tokens: 3}"));
  std::vector<double> kv;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].kind == OpKind::Attention && g[i].layer == 0) kv.push_back(g[i].attn.kv_len);
  REQUIRE(kv.size() == 3);
  CHECK(kv[0] == 101);
  CHECK(kv[2] == 103);
}

TEST_CASE("every_step_ends_in_a_host_sync", "[graph]") {
  const OpGraph g = build_graph(workload("{model: gpt2, phase: train, iterations: 2}"));
  int syncs = 0;
  for (size_t i = 0; i < g.size(); ++i) syncs += g[i].sync;
  CHECK(syncs == 2);
  CHECK(g[g.size() - 1].sync);
}

TEST_CASE("neox_blocks_have_rotary_and_parallel_residual", "[graph]") {
  const OpGraph g = build_graph(workload("{model: genslm-25m, phase: prefill, seq_len: 2048}"));
  int rotary = 0, add_1 = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    rotary += g[i].category == "rotary";
    add_1 += g[i].name.find(".add_1") != std::string::npos;
  }
  CHECK(rotary == 8);
  CHECK(add_1 == 0);
}

TEST_CASE("prefill_lm_head_runs_over_every_position_or_only_the_last", "[graph]") {
  // GPT-2 (tied head, d 768, V 50257), 3 prompts of 64 tokens: the head GEMM is
  // 2 x rows x d x V, rows = 3 x 64 (a plain forward, eager's default) or 3 (serving, graph's).
  auto head_flops = [](const std::string& yaml) {
    const OpGraph g = build_graph(workload(yaml));
    double f = 0;
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i].name == "lm_head" && g[i].kind == OpKind::Gemm) f += g[i].flops;
    return f;
  };
  const std::string base = "{model: gpt2, phase: prefill, batch: 3, seq_len: 64";
  const double per_row = 2.0 * 768 * 50257;
  CHECK(head_flops(base + "}") == Approx(3 * 64 * per_row));
  CHECK(head_flops(base + ", logits: last}") == Approx(3 * per_row));
  CHECK(head_flops(base + ", framework: graph}") == Approx(3 * per_row));
  CHECK(head_flops(base + ", framework: graph, logits: all}") == Approx(3 * 64 * per_row));
  // Every layer's matmuls are untouched: the difference is the head alone.
  CHECK(gemm_flops(build_graph(workload(base + "}")), Pass::Forward) -
            gemm_flops(build_graph(workload(base + ", logits: last}")), Pass::Forward) ==
        Approx(3 * 63 * per_row));
  // A plain forward neither upcasts nor samples (generate's argmax and bookkeeping); it ends
  // in the sync that times it.
  auto count = [](const OpGraph& g, const std::string& category) {
    int n = 0;
    for (size_t i = 0; i < g.size(); ++i) n += g[i].category == category;
    return n;
  };
  const OpGraph plain = build_graph(workload(base + ", weights: bf16}"));
  const OpGraph sampled = build_graph(workload(base + ", weights: bf16, logits: last}"));
  CHECK(count(plain, "cast") == 0);
  CHECK(count(sampled, "cast") == 1);
  CHECK(count(plain, "bookkeeping") == 0);
  CHECK(count(sampled, "bookkeeping") > 0);
  CHECK(plain[plain.size() - 1].sync);
}
