// Parameter counts of the model zoo against the totals their authors publish. A wrong term
// (a missing bias, k/v sized by query heads instead of key/value heads, experts counted once,
// the MLA up-projections dropped) moves these by far more than the tolerance.
#include <catch2/catch.hpp>

#include "sim/config/yaml_doc.h"
#include "workloads/model.h"

using namespace orrery;

namespace {

ModelSpec preset(const std::string& name) {
  const YAML::Node node = load_yaml_text(name, "test");
  return read_model(node, "model");
}

}  // namespace

TEST_CASE("dense_llama_family_parameter_counts_match_their_model_cards", "[model]") {
  // Published totals (model cards / papers): Llama-2 7B 6.74B, 70B 68.98B; Llama-3 8B 8.03B,
  // 70B 70.55B; Mistral-7B 7.24B; Qwen2-7B 7.62B, 72B 72.71B.
  CHECK(preset("llama-2-7b").total_params() == Approx(6.738e9).epsilon(0.005));
  CHECK(preset("llama-2-70b").total_params() == Approx(68.98e9).epsilon(0.005));
  CHECK(preset("llama-3-8b").total_params() == Approx(8.030e9).epsilon(0.005));
  CHECK(preset("llama-3-70b").total_params() == Approx(70.55e9).epsilon(0.005));
  CHECK(preset("mistral-7b").total_params() == Approx(7.242e9).epsilon(0.005));
  CHECK(preset("qwen2-7b").total_params() == Approx(7.616e9).epsilon(0.005));
  CHECK(preset("qwen2-72b").total_params() == Approx(72.71e9).epsilon(0.005));
  // A dense model uses all of its parameters for every token.
  CHECK(preset("llama-3-70b").active_params() == preset("llama-3-70b").total_params());
}

TEST_CASE("llama_3_70b_layer_by_hand", "[model]") {
  // d = 8192, 64 query heads and 8 key/value heads of 128: q and o 8192^2 each, k and v
  // 8192 x 1024 each; SwiGLU 3 x 8192 x 28672; two RMSNorm weights of 8192.
  const double attn = 2 * 8192.0 * 8192 + 2 * 8192.0 * 1024;
  const double mlp = 3 * 8192.0 * 28672;
  CHECK(preset("llama-3-70b").layer_params(0) == attn + mlp + 2 * 8192);
}

TEST_CASE("moe_parameter_counts_total_and_active_match_the_published_figures", "[model]") {
  // Mixtral 8x7B: 46.7B total, 12.9B active (Jiang et al. 2024).
  const ModelSpec mixtral = preset("mixtral-8x7b");
  CHECK(mixtral.total_params() == Approx(46.70e9).epsilon(0.005));
  CHECK(mixtral.active_params() == Approx(12.88e9).epsilon(0.01));
  // DeepSeek-V3 / R1: 671B total (main model), 37B activated per token; the MTP module's
  // weights (~11.5B here, without the embedding and head it shares) come on top.
  for (const char* name : {"deepseek-v3", "deepseek-r1"}) {
    const ModelSpec ds = preset(name);
    CHECK(ds.total_params() == Approx(671e9).epsilon(0.005));
    CHECK(ds.active_params() == Approx(37.5e9).epsilon(0.02));
    CHECK(ds.mtp_params() == Approx(11.5e9).epsilon(0.02));
  }
}

TEST_CASE("deepseek_v3_mla_and_moe_layers_by_hand", "[model]") {
  const ModelSpec ds = preset("deepseek-v3");
  // MLA: q_a 7168x1536 + norm 1536 + q_b 1536 x 128*(128+64); kv_a 7168 x (512+64) + norm 512
  // + kv_b 512 x 128*(128+128); o 128*128 x 7168.
  const double mla = 7168.0 * 1536 + 1536 + 1536.0 * 128 * 192 + 7168.0 * 576 + 512 +
                     512.0 * 128 * 256 + 128.0 * 128 * 7168;
  const double norms = 2 * 7168.0;
  // Layer 0 is dense (SwiGLU 18432); layer 3 is MoE: 256 routed + 1 shared expert of 3 x 7168
  // x 2048, a 7168 x 256 router and 256 score biases.
  CHECK(ds.layer_params(0) == mla + norms + 3 * 7168.0 * 18432);
  const double expert = 3 * 7168.0 * 2048;
  CHECK(ds.layer_params(3) == mla + norms + 257 * expert + 7168.0 * 256 + 256);
  CHECK(ds.layer_active_params(3) == mla + norms + 9 * expert + 7168.0 * 256 + 256);
  CHECK_FALSE(ds.is_moe_layer(2));
  CHECK(ds.is_moe_layer(3));
}

TEST_CASE("inconsistent_moe_and_gqa_settings_are_config_errors", "[model]") {
  const auto bad = [](const std::string& yaml) {
    return [yaml] { (void)read_model(load_yaml_text(yaml, "test"), "model"); };
  };
  const std::string base = "{layers: 4, hidden: 256, heads: 8, ffn: 512, vocab: 100, ";
  CHECK_THROWS_WITH(bad(base + "kv_heads: 3}")(), Catch::Contains("does not divide heads"));
  CHECK_THROWS_WITH(bad(base + "moe: {experts: 8, top_k: 9, expert_ffn: 64}}")(), Catch::Contains("exceeds experts"));
  CHECK_THROWS_WITH(bad(base + "moe: {experts: 8, top_k: 2, expert_ffn: 64, groups: 3}}")(), Catch::Contains("does not divide experts"));
  CHECK_THROWS_WITH(bad(base + "moe: {experts: 8, top_k: 2, expert_ffn: 64, dense_layers: 4}}")(), Catch::Contains("leaves no MoE layer"));
}
