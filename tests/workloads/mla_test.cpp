// Multi-head latent attention (DeepSeek-V3) at the block level: operator shapes, FLOPs and
// bytes computed by hand from the DeepSeek-V3 config (d = 7168, h = 128, q_lora_rank 1536,
// kv_lora_rank 512, qk_nope 128, qk_rope 64, v 128); the tests call the block with a
// BlockContext directly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "hw/kernel_cost.h"
#include "sim/config/yaml_doc.h"
#include "workloads/blocks/mla_attention.h"
#include "workloads/blocks/transformer_layer.h"
#include "workloads/memory_plan.h"

using namespace orrery;
using namespace orrery::transformer;

namespace {

WorkloadSpec workload(const std::string& yaml, int devices = 1) {
  return read_workload(load_yaml_text(yaml, "test.yaml"), "workload", devices);
}

/// The MLA block of layer 0: B sequences of S tokens; decode when kv_len > 0.
Steps mla_block(const WorkloadSpec& w, double B, double S, double kv_len = 0) {
  const BlockContext c(w, 0);
  Steps prog;
  LayerCall call;
  if (kv_len > 0) call = {false, true, kv_len};
  mla_attention_block(c, prog, "h0", c.dims(B, S), call);
  return prog;
}

/// Forward ops by name.
std::map<std::string, Op> forward_ops(const Steps& prog) {
  std::map<std::string, Op> ops;
  for (const Step& s : prog)
    if (!s.fwd.name.empty()) ops[s.fwd.name] = s.fwd;
  return ops;
}

/// Weight elements the forward GEMMs multiply by (B operand: k x n per batch entry), and the
/// RMSNorm weights (the width of each normalised latent).
double weights_touched(const Steps& prog, double tokens) {
  double wts = 0;
  for (const Step& s : prog) {
    const Op& o = s.fwd;
    if (o.kind == OpKind::Gemm) wts += o.gemm.k * o.gemm.n * o.gemm.batch;
    if (o.category == "rmsnorm") wts += o.bytes / (3 * 2) / tokens;  // 3 passes of bf16 per element
  }
  return wts;
}

// MLA weights of one DeepSeek-V3 layer by hand:
//   q_a 7168*1536 = 11,010,048    q_norm 1536    q_b 1536*128*192 = 37,748,736
//   kv_a 7168*576 = 4,128,768     kv_norm 512    kv_b 512*128*256 = 16,777,216
//   o 128*128*7168 = 117,440,512                  total 187,107,328
constexpr double kMlaWeights = 187'107'328;

const char* kDecode = "{model: deepseek-v3, phase: decode, batch: 48, seq_len: 4095, decode_tokens: 1}";
const char* kPrefill = "{model: deepseek-v3, phase: prefill, batch: 1, seq_len: 4096}";

}  // namespace

TEST_CASE("mla_weights_are_the_attention_share_of_layer_params", "[mla]") {
  const WorkloadSpec w = workload(kPrefill);
  // Layer 0 is dense: SwiGLU 3*7168*18432 and two RMSNorms of 7168.
  CHECK(w.model.layer_params(0) - 3.0 * 7168 * 18432 - 2 * 7168 == kMlaWeights);
  double grads = 0;
  for (double t : mla_attention_gradients(w.model)) grads += t;
  CHECK(grads == kMlaWeights);
  // Backward order: o first, q_a last.
  CHECK(mla_attention_gradients(w.model).front() == 128.0 * 128 * 7168);
  CHECK(mla_attention_gradients(w.model).back() == 7168.0 * 1536);
  // The layer's gradient list carries the MLA tensors, in order, after the feed-forward's.
  const std::vector<double> layer = layer_gradients(w.model), mla = mla_attention_gradients(w.model);
  const auto at = std::search(layer.begin(), layer.end(), mla.begin(), mla.end());
  CHECK(at != layer.end());
  // Prefill (naive) and decode (absorbed, W_UK and W_UV are kv_b split per head) touch them all.
  CHECK(weights_touched(mla_block(w, 1, 4096), 4096) == kMlaWeights);
  CHECK(weights_touched(mla_block(workload(kDecode), 48, 1, 4096), 48) == kMlaWeights);
}

TEST_CASE("mla_prefill_projection_shapes_and_attention", "[mla]") {
  const auto ops = forward_ops(mla_block(workload(kPrefill), 1, 4096));
  const auto shape = [&](const std::string& n) {
    const Op& o = ops.at("h0.attn." + n);
    REQUIRE(o.kind == OpKind::Gemm);
    CHECK(o.gemm.m == 4096);
    CHECK(o.gemm.batch == 1);
    return std::make_pair(o.gemm.k, o.gemm.n);
  };
  CHECK(shape("q_a") == std::make_pair(7168.0, 1536.0));
  CHECK(shape("q_b") == std::make_pair(1536.0, 24576.0));   // 128 * (128 + 64)
  CHECK(shape("kv_a") == std::make_pair(7168.0, 576.0));    // 512 + 64
  CHECK(shape("kv_b") == std::make_pair(512.0, 32768.0));   // 128 * (128 + 128)
  CHECK(shape("o") == std::make_pair(16384.0, 7168.0));     // 128 * 128
  CHECK(ops.count("h0.attn.w_uk") == 0);
  CHECK(ops.at("h0.attn.q_norm").bytes == 4096.0 * 1536 * 3 * 2);
  CHECK(ops.at("h0.attn.kv_norm").bytes == 4096.0 * 512 * 3 * 2);

  const Op& a = ops.at("h0.attn.sdpa");
  REQUIRE(a.kind == OpKind::Attention);
  // Causal: 128 * 4096^2 / 2 scores, each 2*(192 + 128) FLOPs (QK^T over 192, PV over 128).
  CHECK(a.flops == 2.0 * (128.0 * 4096 * 4096 / 2) * (192 + 128));
  CHECK(a.flops == 687'194'767'360.0);
  // Q (192) + O (128) + K (192) + V (128) per head and token, bf16.
  CHECK(a.bytes == 128.0 * 4096 * (192 + 128 + 192 + 128) * 2);
}

TEST_CASE("mla_training_backward_mirrors_the_forward", "[mla]") {
  // MoE training is not modelled: a dense model with DeepSeek-V3's attention.
  const WorkloadSpec w = workload(
      "{model: {name: mla-dense, layers: 4, hidden: 7168, heads: 128, ffn: 18432, vocab: 129280, "
      "max_positions: 4096, norm: rmsnorm, mlp: swiglu, bias: false, rotary_fraction: 1, "
      "tied_embeddings: false, learned_positions: false, mla: {q_lora_rank: 1536, kv_lora_rank: 512, "
      "qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128}}, phase: train, batch: 1, seq_len: 4096}");
  const Steps prog = mla_block(w, 1, 4096);
  double fwd = 0, bwd = 0, attn_bwd = 0;
  for (const Step& s : prog) {
    if (s.fwd.kind == OpKind::Gemm) fwd += s.fwd.flops;
    for (const Op& b : s.bwd) {
      if (b.kind == OpKind::Gemm) bwd += b.flops;
      if (b.kind == OpKind::Attention) attn_bwd += b.flops;
    }
  }
  // Every projection GEMM has dX and dW: twice its forward.
  CHECK(fwd == 2.0 * 4096 * kMlaWeights - 2.0 * 4096 * (1536 + 512));
  CHECK(bwd == Approx(2 * fwd));
  // Attention backward: 2 * scores * (3*192 + 2*128).
  CHECK(attn_bwd == Approx(2.0 * (128.0 * 4096 * 4096 / 2) * (3 * 192 + 2 * 128)));
}

TEST_CASE("mla_decode_reads_the_latent_cache_once_for_all_heads", "[mla]") {
  const auto ops = forward_ops(mla_block(workload(kDecode), 48, 1, 4096));
  const Op& a = ops.at("h0.attn.sdpa");
  REQUIRE(a.kind == OpKind::Attention);
  CHECK(a.attn.heads == 128);
  CHECK(a.attn.kv_heads == 1);
  CHECK(a.attn.head_dim == 576);
  CHECK(a.attn.v_dim() == 512);
  CHECK(a.cold);
  // The latent cache: B * L * 576 values of bf16 per layer = 226.5 MB for B = 48, L = 4096.
  const double cache = 48.0 * 4096 * 576 * 2;
  CHECK(cache == 226'492'416.0);
  // Plus the absorbed queries (128 x 576) and latent outputs (128 x 512) of each sequence.
  CHECK(a.bytes == cache + 48.0 * 128 * (576 + 512) * 2);
  // FLOPs = 2 * B * h * L * (576 + 512): scores over 576 dims, context over 512.
  CHECK(a.flops == 2.0 * 48 * 128 * 4096 * (576 + 512));
  CHECK(a.flops == 54'760'833'024.0);

  // Absorbed per-head GEMMs: q_n (48 x 128) W_UK (128 x 512), o_lat (48 x 512) W_UV (512 x 128).
  const Op& uk = ops.at("h0.attn.w_uk");
  CHECK(uk.gemm.batch == 128);
  CHECK(uk.gemm.m == 48);
  CHECK(uk.gemm.k == 128);
  CHECK(uk.gemm.n == 512);
  const Op& uv = ops.at("h0.attn.w_uv");
  CHECK(uv.gemm.batch == 128);
  CHECK(uv.gemm.m == 48);
  CHECK(uv.gemm.k == 512);
  CHECK(uv.gemm.n == 128);
  // No decompression of the cache in decode.
  CHECK(ops.count("h0.attn.kv_b") == 0);
  // The new token's 576 values per sequence (eager torch.cat: the whole cache, old and new).
  CHECK(ops.at("h0.attn.kv_update").bytes == 48.0 * 576 * 2 * (4095 + 4096));
}

TEST_CASE("mla_tensor_parallel_splits_heads_and_replicates_latents", "[mla]") {
  const WorkloadSpec w = workload(
      "{model: deepseek-v3, phase: decode, batch: 48, seq_len: 4095, decode_tokens: 1, "
      "framework: graph, parallel: {tp: 8}}", 8);
  const auto ops = forward_ops(mla_block(w, 48, 1, 4096));
  CHECK(ops.at("h0.attn.q_a").gemm.n == 1536);            // replicated
  CHECK(ops.at("h0.attn.kv_a").gemm.n == 576);            // replicated
  CHECK(ops.at("h0.attn.q_b").gemm.n == 24576.0 / 8);     // column-split by heads
  CHECK(ops.at("h0.attn.w_uk").gemm.batch == 16);
  CHECK(ops.at("h0.attn.o").gemm.k == 16384.0 / 8);       // row-split
  const Op& a = ops.at("h0.attn.sdpa");
  CHECK(a.attn.heads == 16);
  // Every rank reads the whole latent cache for its 16 heads.
  CHECK(a.bytes == 48.0 * 4096 * 576 * 2 + 48.0 * 16 * (576 + 512) * 2);
  // graph framework (static cache): only the new token is written.
  CHECK(ops.at("h0.attn.kv_update").bytes == 48.0 * 576 * 2);
}

TEST_CASE("mla_kv_cache_in_the_memory_plan_is_the_latent", "[mla]") {
  const WorkloadSpec w = workload("{model: deepseek-v3, phase: decode, batch: 1, seq_len: 4095, decode_tokens: 1}");
  const MemoryPlan plan = plan_memory(w);
  double kv = -1;
  for (const MemoryItem& it : plan.items)
    if (it.name == "kv_cache") kv = it.bytes;
  // 61 layers x 4096 tokens x (512 + 64) x 2 B = 287,834,112 B (vs 2*d = 14336 values for MHA).
  CHECK(kv == 61.0 * 4096 * 576 * 2);
  CHECK(kv == 287'834'112.0);
}

TEST_CASE("attention_shape_defaults_keep_multi_head_attention", "[mla]") {
  AttentionShape a;
  a.batch = 2;
  a.heads = 12;
  a.head_dim = 64;
  a.q_len = a.kv_len = 1024;
  CHECK(a.flops() == 4.0 * a.scores() * 64);
  CHECK(a.elements() == 2.0 * 12 * 64 * (2 * 1024 + 2 * 1024));
  a.backward = true;
  CHECK(a.flops() == 4.0 * a.scores() * 64 * 2.5);
  CHECK(a.elements() == 2.0 * 12 * 64 * (4 * 1024 + 4 * 1024));
  // Grouped-query: K and V per kv head.
  a.backward = false;
  a.kv_heads = 4;
  CHECK(a.elements() == 2.0 * 64 * (12 * 1024 * 2 + 4 * 1024 * 2));
}

TEST_CASE("mla_decode_attention_cost_is_bound_by_the_latent_cache", "[mla]") {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  const DeviceSpec d = read_device(load_preset(PresetKind::Device, "h100-sxm", ctx, "device"), "device");
  const auto ops = forward_ops(mla_block(workload(kDecode), 48, 1, 4096));
  const Op& a = ops.at("h0.attn.sdpa");
  const KernelCost c = kernel_cost(d, a);
  // The cost model's matrix FLOPs are the op's: 2*B*h*L*(576 + 512).
  const MatrixEngineSpec& m = d.matrix_engine();
  const double t_matrix = 2.0 * 48 * 128 * 4096 * (576 + 512) / (m.peak.at(Dtype::bf16) * m.attention_efficiency);
  CHECK(c.compute_s >= t_matrix * (1 - 1e-12));
  CHECK(c.bytes == a.bytes);
  // Served from HBM (cold), 6144 thread blocks: no bandwidth cap below HBM.
  CHECK(&d.memory[static_cast<size_t>(c.level)] == &d.backing_memory());
  CHECK(c.bandwidth_cap >= d.backing_memory().sustained());
}

TEST_CASE("mla_without_query_compression_projects_queries_directly", "[mla]") {
  // DeepSeek-V2-Lite's attention (q_lora_rank 0): d = 2048, 16 heads. MLA weights by hand:
  //   q 2048*16*192 = 6,291,456   kv_a 2048*576 = 1,179,648   kv_norm 512
  //   kv_b 512*16*256 = 2,097,152   o 16*128*2048 = 4,194,304   total 13,763,072
  const WorkloadSpec w = workload(
      "model: {name: v2-lite-attn, layers: 2, hidden: 2048, heads: 16, ffn: 10944, vocab: 1000, "
      "norm: rmsnorm, mlp: swiglu, bias: false, learned_positions: false, "
      "mla: {q_lora_rank: 0, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128}}\n"
      "phase: prefill\nbatch: 2\nseq_len: 512\n");
  const double mla = 13'763'072;
  CHECK(w.model.layer_params(0) - 3.0 * 2048 * 10944 - 2 * 2048 == mla);
  double grads = 0;
  for (double t : mla_attention_gradients(w.model)) grads += t;
  CHECK(grads == mla);
  const Steps prog = mla_block(w, 2, 512);
  CHECK(weights_touched(prog, 1024) == mla);
  const auto ops = forward_ops(prog);
  CHECK(ops.count("h0.attn.q_a") == 0);
  CHECK(ops.at("h0.attn.q").gemm.k == 2048);
  CHECK(ops.at("h0.attn.q").gemm.n == 16 * 192);
  CHECK(ops.at("h0.attn.sdpa").attn.batch == 2);
  CHECK(ops.at("h0.attn.sdpa").attn.q_len == 512);
}

TEST_CASE("transformer_layer_dispatches_to_mla_when_the_model_has_it", "[mla]") {
  const WorkloadSpec w = workload(kDecode);
  const BlockContext c(w, 0);
  const auto ops = forward_ops(transformer_layer(c, 0, c.dims(48, 1), {false, true, 4096}));
  CHECK(ops.count("h0.attn.kv_a") == 1);
  CHECK(ops.count("h0.attn.w_uk") == 1);
  CHECK(ops.count("h0.attn.qkv") == 0);
  CHECK(ops.at("h0.attn.sdpa").attn.head_dim == 576);
  // GPT-2 keeps its attention block.
  const WorkloadSpec g = workload("{model: gpt2, phase: decode, seq_len: 100, decode_tokens: 1}");
  const BlockContext cg(g, 0);
  const auto gops = forward_ops(transformer_layer(cg, 0, cg.dims(1, 1), {false, true, 101}));
  CHECK(gops.count("h0.attn.qkv") == 1);
  CHECK(gops.count("h0.attn.kv_a") == 0);
}
