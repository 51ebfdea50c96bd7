// The memory plan's per-block accounting against the block_memory rows of
// tests/data/h200_graph_microbench.json: one GPT-2-style block, fp32 weights under bf16
// autocast, fp32 input requiring grad, no dropout, one-kernel tanh GELU or HF's op-by-op
// gelu_new. Nothing in the plan was fitted on these rows: every term is a tensor autograd keeps
// (docs/models.md §memory). Bounds: saved bytes mean abs error <= 10% (every row <= 10% once the
// first row's one-off cuBLAS workspace is counted); forward peak <= 20% mean; forward+backward
// peak <= 25% mean (a coarse single-moment model of the backward, see block_memory()).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "sim/config/yaml_doc.h"
#include "tests/support/run_cli.h"
#include "workloads/memory_plan.h"

using namespace orrery;
using namespace orrery::test;

namespace {

nlohmann::json rows() {
  std::ifstream in(source_path("tests/data/h200_graph_microbench.json"));
  return nlohmann::json::parse(in).at("block_memory");
}

WorkloadSpec block_of(const nlohmann::json& r) {
  const std::string model = r.at("model") == "gpt2" ? "gpt2" : "gpt2-xl";
  const std::string act = r.at("gelu") == "tanh" ? "gelu_tanh" : "gelu_new";
  const std::string yaml = fmt::format(
      "{{model: {}, phase: block, backward: true, batch: {}, seq_len: {}, precision: bf16, weights: fp32, "
      "dropout: false}}",
      model, r.at("B").get<int>(), r.at("S").get<int>());
  WorkloadSpec w = read_workload(load_yaml_text(yaml, "test.yaml"), "workload");
  w.model.activation = act == "gelu_tanh" ? Activation::gelu_tanh : Activation::gelu_new;
  return w;
}

struct Errors {
  double saved = 0, fwd = 0, fwdbwd = 0, worst_saved = 0;
};

Errors compare() {
  Errors e;
  const auto data = rows();
  std::cout << fmt::format("\nblock_memory ({} rows)\n{:<28} {:>10} {:>10} {:>7} {:>7} {:>7}\n", data.size(), "row",
                           "saved MB", "model MB", "saved", "fwd pk", "fwdbwd");
  bool first = true;
  for (const auto& r : data) {
    const BlockMemory b = block_memory(block_of(r));
    // The first block of the process also allocates the main thread's cuBLAS workspace.
    const double one_off = first ? kCublasWorkspace : 0.0;
    const double saved = r.at("saved_bytes").get<double>();
    const double es = (b.saved + one_off - saved) / saved;
    const double ef = (b.fwd_peak + one_off - r.at("fwd_peak_over_start").get<double>()) / r.at("fwd_peak_over_start").get<double>();
    // The backward's autograd thread allocates its own cuBLAS workspace on its first GEMM.
    const double eb = (b.fwdbwd_peak + 2 * one_off - r.at("fwdbwd_peak_over_start").get<double>()) /
                      r.at("fwdbwd_peak_over_start").get<double>();
    std::cout << fmt::format("{:<28} {:>10.1f} {:>10.1f} {:>+6.1f}% {:>+6.1f}% {:>+6.1f}%\n",
                             fmt::format("{} {} B{} S{}", r.at("model").get<std::string>(), r.at("gelu").get<std::string>(),
                                         r.at("B").get<int>(), r.at("S").get<int>()),
                             saved / 1e6, (b.saved + one_off) / 1e6, 100 * es, 100 * ef, 100 * eb);
    e.saved += std::fabs(es);
    e.fwd += std::fabs(ef);
    e.fwdbwd += std::fabs(eb);
    e.worst_saved = std::max(e.worst_saved, std::fabs(es));
    first = false;
  }
  const auto n = static_cast<double>(data.size());
  e.saved /= n;
  e.fwd /= n;
  e.fwdbwd /= n;
  std::cout << fmt::format("mean abs error: saved {:.1f}% (worst {:.1f}%), fwd peak {:.1f}%, fwd+bwd peak {:.1f}%\n",
                           100 * e.saved, 100 * e.worst_saved, 100 * e.fwd, 100 * e.fwdbwd);
  return e;
}

}  // namespace

TEST_CASE("block_saved_bytes_match_the_h200_block_memory_rows", "[accuracy][memory]") {
  const Errors e = compare();
  CHECK(rows().size() == 16);
  CHECK(e.saved <= 0.10);
  CHECK(e.worst_saved <= 0.10);
  CHECK(e.fwd <= 0.20);
  CHECK(e.fwdbwd <= 0.25);
}

TEST_CASE("gpt2_small_block_saved_bytes_by_hand", "[memory]") {
  // gpt2 (d 768, f 3072, 12 heads), B 4 x S 1024 = 4096 tokens, bf16 autocast over fp32 weights,
  // no dropout. Per token: LN1 and LN2 inputs 2 x 768 x 4 B; six bf16 Linear inputs / q,k,v
  // 6 x 768 x 2 B; lse 12 x 4 B; one-kernel GELU 2 x 3072 x 2 B; gelu_new under autocast
  // (3 x 4 + 2 x 2) x 3072 B.
  WorkloadSpec w = block_of({{"model", "gpt2"}, {"gelu", "tanh"}, {"B", 4}, {"S", 1024}});
  const double T = 4096;
  const GptLayerSaved s = gpt_layer_saved(w);
  CHECK(s.norm_inputs == Approx(T * 768 * 8));
  CHECK(s.dropout_masks == 0);
  CHECK(s.linear_inputs == Approx(T * 768 * 12));
  CHECK(s.attention_lse == Approx(T * 12 * 4));
  CHECK(s.mlp == Approx(T * 3072 * 4));
  w.model.activation = Activation::gelu_new;
  CHECK(gpt_layer_saved(w).mlp == Approx(T * 3072 * 16));
  // The block's saved bytes: cached bf16 weights and biases (7,084,800 parameters x 2 B) plus
  // the layer's tensors minus its fp32 input.
  const BlockMemory b = block_memory(w);
  CHECK(b.saved == Approx(7084800.0 * 2 + T * (768 * 8 + 768 * 12 + 48 + 3072 * 16) - T * 768 * 4));
}

TEST_CASE("gelu_new_saves_fp32_tensors_only_under_autocast", "[memory]") {
  Numerics autocast;
  autocast.act = Dtype::bf16;
  autocast.autocast = true;
  Numerics pure = autocast;
  pure.autocast = false;
  CHECK(gelu_saved_bytes(Activation::gelu_new, autocast) == 16);
  CHECK(gelu_saved_bytes(Activation::gelu_new, pure) == 10);
  CHECK(gelu_saved_bytes(Activation::gelu_tanh, autocast) == 4);
  CHECK(gelu_saved_bytes(Activation::gelu, pure) == 4);
}
