// The dense Llama family as operator graphs: the GEMMs of one Llama-3-8B layer by hand, the
// KV cache read with grouped-query attention, RMSNorm / SwiGLU / bias choices, Megatron
// tensor-parallel shapes, and DDP gradient tensors that add up to the parameter counts.
#include <catch2/catch.hpp>

#include <map>
#include <numeric>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "workloads/blocks/embedding.h"
#include "workloads/blocks/transformer_layer.h"
#include "workloads/builders/transformer.h"
#include "workloads/memory_plan.h"

using namespace orrery;

namespace {

WorkloadSpec workload(const std::string& yaml, int devices = 1) {
  return read_workload(load_yaml_text(yaml, "test.yaml"), "workload", devices);
}

/// Forward ops of layer 0 in the first iteration.
std::vector<Op> layer0_forward(const OpGraph& g) {
  std::vector<Op> ops;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].layer == 0 && g[i].pass == Pass::Forward && g[i].iteration == 0) ops.push_back(g[i]);
  return ops;
}

std::map<std::string, GemmShape> gemms_by_name(const std::vector<Op>& ops) {
  std::map<std::string, GemmShape> m;
  for (const Op& o : ops)
    if (o.kind == OpKind::Gemm) m[o.name] = o.gemm;
  return m;
}

}  // namespace

TEST_CASE("llama_3_8b_layer_gemms_by_hand", "[graph][llama]") {
  // 512 tokens of prefill, bf16 weights (no autocast casts).
  const double T = 512;
  const OpGraph g = build_graph(workload("{model: llama-3-8b, phase: prefill, batch: 1, seq_len: 512, weights: bf16}"));
  const std::vector<Op> ops = layer0_forward(g);
  const auto gm = gemms_by_name(ops);
  // d = 4096, 32 query heads and 8 key/value heads of 128, ffn 14336: HF q_proj, k_proj,
  // v_proj, o_proj, gate_proj, up_proj, down_proj (C[T, out] = X[T, in] W^T).
  const std::map<std::string, std::pair<double, double>> want{
      {"h0.attn.q_proj", {4096, 4096}},  {"h0.attn.k_proj", {4096, 1024}},
      {"h0.attn.v_proj", {4096, 1024}},  {"h0.attn.o_proj", {4096, 4096}},
      {"h0.mlp.gate_proj", {4096, 14336}}, {"h0.mlp.up_proj", {4096, 14336}},
      {"h0.mlp.down_proj", {14336, 4096}}};
  REQUIRE(gm.size() == want.size());
  for (const auto& [name, io] : want) {
    INFO(name);
    REQUIRE(gm.count(name) == 1);
    CHECK(gm.at(name).m == T);
    CHECK(gm.at(name).k == io.first);
    CHECK(gm.at(name).n == io.second);
  }
  // Matmul parameters of the layer, by hand: q 4096*4096 = 16,777,216; k, v 2 * 4096*1024 =
  // 8,388,608; o 16,777,216; gate, up, down 3 * 4096*14336 = 176,160,768; sum 218,103,808
  // (= layer_params minus the two 4096-wide RMSNorm weights). Forward: 2 FLOPs per weight
  // per token (the forward third of 6N).
  const double matmul_params = 218103808.0;
  CHECK(g.size() > 0);
  CHECK(matmul_params == workload("{model: llama-3-8b, phase: prefill}").model.layer_params(0) - 2 * 4096);
  double flops = 0;
  for (const Op& o : ops)
    if (o.kind == OpKind::Gemm) flops += o.flops;
  CHECK(flops / T == Approx(2 * matmul_params));
  // No biases anywhere, RMSNorm instead of LayerNorm, silu * up instead of GELU.
  int rmsnorms = 0, layernorms = 0, silu = 0, gelu = 0, rotary = 0;
  for (const Op& o : ops) {
    rmsnorms += o.category == "rmsnorm";
    layernorms += o.category == "layernorm";
    silu += o.category == "silu";
    gelu += o.category == "gelu";
    rotary += o.category == "rotary";
  }
  CHECK(rmsnorms == 2);
  CHECK(layernorms == 0);
  CHECK(silu == 1);
  CHECK(gelu == 0);
  CHECK(rotary == 1);
}

TEST_CASE("llama_rmsnorm_kernels_and_bytes", "[graph][llama]") {
  // HF LlamaRMSNorm, fp32 residual (autocast, fp32 weights): pow, mean, add, rsqrt, mul, mul =
  // 6 kernels and 28 B per element plus 24 B per row; bf16 weights add two casts (8 kernels,
  // 36 B per element).
  const double T = 256, d = 4096;
  for (const char* weights : {"fp32", "bf16"}) {
    INFO(weights);
    const bool fp32 = std::string(weights) == "fp32";
    const OpGraph g = build_graph(workload(std::string("{model: llama-3-8b, phase: block, batch: 1, seq_len: 256, backward: true, weights: ") + weights + "}"));
    bool found = false;
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i].name != "h0.ln_1") continue;
      found = true;
      CHECK(g[i].category == "rmsnorm");
      CHECK(g[i].kernels == (fp32 ? 6 : 8));
      CHECK(g[i].bytes == Approx(T * d * (fp32 ? 28 : 36) + 24 * T));
      CHECK(g[i].dtype == (fp32 ? Dtype::fp32 : Dtype::bf16));
    }
    CHECK(found);
  }
}

TEST_CASE("gqa_decode_reads_kv_heads_not_heads_of_cache", "[graph][llama]") {
  // Decode step at KV length 1025 (1024 prompt + the new token), batch 4: the fused attention
  // reads K and V of 8 key/value heads of 128 (2 bytes each) and Q, O of the 32 query heads.
  const double B = 4, kv = 1025, kvh = 8, hd = 128, h = 32;
  auto attention_bytes = [](const std::string& model) {
    const OpGraph g = build_graph(workload("{model: " + model + ", phase: decode, batch: 4, seq_len: 1024, decode_tokens: 1, weights: bf16}"));
    double bytes = -1, kv_update = -1;
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i].layer != 0) continue;
      if (g[i].kind == OpKind::Attention) bytes = g[i].bytes;
      if (g[i].name == "h0.attn.kv_update") kv_update = g[i].bytes;
    }
    return std::make_pair(bytes, kv_update);
  };
  const auto [gqa, gqa_update] = attention_bytes("llama-3-8b");
  const double q_and_o = 2 * B * h * hd * 2;
  const double kv_read = 2 * B * kv * kvh * hd * 2;  // K and V, bf16
  CHECK(gqa == Approx(q_and_o + kv_read));
  // The same model with multi-head attention (kv_heads = heads) reads 4x the cache.
  const auto [mha, mha_update] = attention_bytes("{preset: llama-3-8b, kv_heads: 32}");
  CHECK((mha - q_and_o) / (gqa - q_and_o) == Approx(4));
  // HF DynamicCache torch.cat copies the K and V caches of kvh heads too (each: read kv-1,
  // write kv tokens).
  CHECK(gqa_update == Approx(2 * B * kvh * hd * 2 * (2 * kv - 1)));
  CHECK(mha_update == Approx(4 * gqa_update));
  // The memory plan's KV cache: 2 x 32 layers x B x 1025 tokens x kvh*hd x 2 B.
  const MemoryPlan plan = plan_memory(workload("{model: llama-3-8b, phase: decode, batch: 4, seq_len: 1024, decode_tokens: 1, weights: bf16}"));
  double cache = -1;
  for (const auto& i : plan.items)
    if (i.name == "kv_cache") cache = i.bytes;
  CHECK(cache == Approx(2 * 32 * B * kv * kvh * hd * 2));
}

TEST_CASE("qwen2_has_qkv_biases_only_and_gpt2_keeps_its_fused_qkv", "[graph][llama]") {
  auto bias_grads = [](const std::string& yaml) {
    const OpGraph g = build_graph(workload(yaml));
    std::vector<std::string> names;
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i].layer == 0 && g[i].name.size() > 3 && g[i].name.substr(g[i].name.size() - 3) == ".db")
        names.push_back(g[i].name);
    std::sort(names.begin(), names.end());
    return names;
  };
  CHECK(bias_grads("{model: qwen2-7b, phase: block, batch: 1, seq_len: 128, backward: true}") ==
        std::vector<std::string>{"h0.attn.k_proj.db", "h0.attn.q_proj.db", "h0.attn.v_proj.db"});
  CHECK(bias_grads("{model: llama-2-7b, phase: block, batch: 1, seq_len: 128, backward: true}").empty());
  CHECK(bias_grads("{model: gpt2, phase: block, batch: 1, seq_len: 128, backward: true}") ==
        std::vector<std::string>{"h0.attn.proj.db", "h0.attn.qkv.db", "h0.mlp.fc1.db", "h0.mlp.fc2.db"});
}

TEST_CASE("llama_tensor_parallel_splits_q_k_v_gate_up_by_columns_o_down_by_rows", "[graph][llama]") {
  // Llama-3-8B over tp = 8: 4 query heads and 1 key/value head per rank.
  const OpGraph g = build_graph(workload("{model: llama-3-8b, phase: train, batch: 1, seq_len: 1024, parallel: {tp: 8, sp: true}}", 8));
  const auto gm = gemms_by_name(layer0_forward(g));
  CHECK(gm.at("h0.attn.q_proj").n == 512);
  CHECK(gm.at("h0.attn.k_proj").n == 128);
  CHECK(gm.at("h0.attn.v_proj").n == 128);
  CHECK(gm.at("h0.attn.o_proj").k == 512);
  CHECK(gm.at("h0.attn.o_proj").n == 4096);
  CHECK(gm.at("h0.mlp.gate_proj").n == 1792);
  CHECK(gm.at("h0.mlp.up_proj").n == 1792);
  CHECK(gm.at("h0.mlp.down_proj").k == 1792);
  // Sequence parallel: the norms see 1024 / 8 tokens, entered by all-gathers.
  int gathers = 0;
  for (const Op& o : layer0_forward(g)) gathers += o.kind == OpKind::Comm && o.comm.op == CommKind::AllGather;
  CHECK(gathers == 2);
  // kv_heads that tp does not divide is a configuration error naming the key.
  CHECK_THROWS_AS(workload("{model: {preset: llama-3-8b, kv_heads: 4}, phase: train, parallel: {tp: 8}}", 8), ConfigError);
  CHECK_THROWS_WITH(workload("{model: {preset: llama-3-8b, kv_heads: 4}, phase: train, parallel: {tp: 8}}", 8),
                    Catch::Contains("kv_heads") && Catch::Contains("tp"));
}

TEST_CASE("ddp_gradient_tensors_add_up_to_the_parameter_counts", "[graph][llama]") {
  // Every dense preset (GPT-2, GenSLM / NeoX, the Llama family): a layer's gradient tensors
  // in DDP's backward order sum to layer_params, and with the embeddings and the head to
  // total_params.
  int checked = 0;
  for (const std::string& name : preset_names(PresetKind::Model)) {
    const ModelSpec pm = read_model(load_yaml_text(name, "test.yaml"), "model");
    if (pm.mla.enabled() || pm.moe.enabled()) continue;  // not built by the dense layer
    const WorkloadSpec w = workload("{model: " + name + ", phase: train}");
    const ModelSpec& m = w.model;
    INFO(name);
    const std::vector<double> t = transformer::layer_gradients(m);
    const double layer = std::accumulate(t.begin(), t.end(), 0.0);
    CHECK(layer == Approx(m.layer_params(0)).epsilon(1e-12));
    const transformer::BlockContext c(w, 0);
    const double total = transformer::embedding_gradients(m) + transformer::head_gradients(c) +
                         double(m.layers) * layer;
    CHECK(total == Approx(m.total_params()).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked >= 16);  // 5 GPT-2, 4 GenSLM, 7 dense Llama-family presets
}

TEST_CASE("custom_mixes_of_norm_mlp_heads_and_biases_stay_consistent", "[graph][llama]") {
  // RMSNorm with a bias-free GELU MLP, an explicit head_dim (64, not hidden/heads = 32) and
  // QKV-only biases: gradient tensors still add up, and the layer's forward GEMM FLOPs are two
  // per matmul weight per token.
  const WorkloadSpec w = workload(
      "{model: {name: mix, layers: 2, hidden: 256, heads: 8, kv_heads: 2, head_dim: 64, ffn: 512, "
      "vocab: 1000, norm: rmsnorm, mlp: gelu, activation: gelu, bias: false, qkv_bias: true, "
      "tied_embeddings: false, learned_positions: false, rotary_fraction: 1}, phase: prefill, "
      "batch: 1, seq_len: 64, weights: bf16}");
  const std::vector<double> t = transformer::layer_gradients(w.model);
  CHECK(std::accumulate(t.begin(), t.end(), 0.0) == Approx(w.model.layer_params(0)));
  const double d = 256, q = 8 * 64, kv = 2 * 64, f = 512;
  double flops = 0;
  int gemms = 0;
  const OpGraph g = build_graph(w);
  for (const Op& o : layer0_forward(g)) {
    if (o.kind != OpKind::Gemm) continue;
    flops += o.flops;
    ++gemms;
  }
  CHECK(gemms == 6);  // q, k, v, o, fc1, fc2
  CHECK(flops / 64 == Approx(2 * (d * q + 2 * d * kv + q * d + 2 * d * f)));
}
