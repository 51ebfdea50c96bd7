#include "workloads/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/config/errors.h"
#include "sim/units/quantity.h"
#include "workloads/blocks/mla_attention.h"
#include "workloads/builders/transformer.h"

namespace orrery {

namespace {

/// K (or V) width per token: kv_heads * head_dim (d for multi-head attention).
double kv_width(const ModelSpec& m) {
  if (m.is_gpt_style()) return double(m.hidden);
  return double(m.kv_heads > 0 ? m.kv_heads : m.heads) * m.head_dim();
}

/// Matmul weights of one layer. GPT-2 / NeoX: qkv 3d^2, proj d^2, fc1 and fc2 2df. Llama
/// family: q and o 2*d*h*hd, k and v 2*d*kvh*hd, SwiGLU gate, up and down 3df.
double layer_matmul_weights(const ModelSpec& m) {
  const double d = double(m.hidden), f = double(m.ffn);
  // GPT-2 / NeoX Linear layers carry biases (qkv 3d, proj d, fc1 f, fc2 d): autocast casts
  // them with their weights.
  if (m.is_gpt_style()) return 4 * d * d + 2 * d * f + 5 * d + f;
  const double q = double(m.heads) * m.head_dim();
  return 2 * d * q + 2 * d * kv_width(m) + (m.mlp == Mlp::swiglu ? 3 : 2) * d * f;
}

double matmul_weights(const ModelSpec& m) {
  return double(m.layers) * layer_matmul_weights(m) + double(m.vocab) * m.hidden;
}

MemoryPlan microbench_plan(const WorkloadSpec& w) {
  MemoryPlan plan;
  double largest = 0;
  for (const auto& m : w.micro) {
    const double b = dtype_bytes(m.dtype);
    double bytes = 0;
    if (m.kind == "gemm") bytes = (m.gemm.m * m.gemm.k + m.gemm.k * m.gemm.n + m.gemm.m * m.gemm.n) * m.gemm.batch * b;
    else if (m.kind == "attention") bytes = m.attn.batch * m.attn.heads * m.attn.head_dim * (2 * m.attn.q_len + 2 * m.attn.kv_len) * b * (m.attn.backward ? 2 : 1);
    else bytes = 2 * m.rows * m.cols * b;
    largest = std::max(largest, bytes);
  }
  plan.items.push_back({"operands", largest, "inputs and outputs of the largest op"});
  plan.peak = largest;
  return plan;
}

/// What one rank of one pipeline stage holds. Parallelism: this rank holds its stage's
/// layers, split over tp; ZeRO-1 splits the optimizer state over dp; 1F1B keeps up to
/// pp - stage micro-batches' activations alive.
struct StageMemory {
  const WorkloadSpec& w;
  int stage;
  Numerics n = numerics_of(w);
  double rb = dtype_bytes(n.residual), ab = dtype_bytes(n.act), wb = dtype_bytes(n.weights);
  double d = double(w.model.hidden), f = double(w.model.ffn), V = double(w.model.vocab);
  double B = double(w.batch), S = double(w.seq_len);
  bool block = w.phase == Phase::block;
  double tp = w.parallel.tp, mb = double(w.parallel.microbatches);
  std::pair<int, int> layers = stage_layers(w.model.layers, w.parallel.pp, stage);
  bool first = stage == 0, last = stage == w.parallel.pp - 1;
  double T = B * S / mb;  // tokens of one micro-batch

  [[nodiscard]] double stage_layers_count() const { return double(layers.second - layers.first); }
  [[nodiscard]] double params() const {
    if (block) return w.model.block_params() / tp;
    const double layout = -attention_split_saving();
    if (w.model.moe.enabled()) return (moe_rank_params() + layout) / tp;
    return (w.model.stage_params(layers.second - layers.first, first, last) + layout) / tp;
  }
  /// The sp_tp_sp attention layout holds W_UQ and W_UKV 1/g per rank (g: the attention group):
  ///   saving = stage layers x (q_b + kv_b weights) x (1 - 1/g)
  [[nodiscard]] double attention_split_saving() const {
    const ParallelSpec& par = w.parallel;
    if (par.attention != AttentionLayout::sp_tp_sp) return 0;
    const double g = double(par.attention_group);
    return stage_layers_count() * transformer::mla_head_split_weights(w.model) * (1 - 1 / g);
  }
  /// An MoE model's stage on one rank: every dense weight, and of the experts only the slots
  /// this rank holds — all of them without expert parallelism, else
  /// ceil((experts + redundant + shared replicas) / ep) per MoE layer, plus the shared experts
  /// when every rank runs them itself.
  [[nodiscard]] double moe_rank_params() const {
    const ModelSpec& m = w.model;
    double p = m.stage_params(0, first, last);
    for (long l = layers.first; l < layers.second; ++l)
      p += m.layer_params(l) + (m.is_moe_layer(l) ? expert_slot_change() : 0.0);
    return p;
  }
  /// Parameters an MoE layer's rank holds beyond or short of the whole layer's experts.
  [[nodiscard]] double expert_slot_change() const {
    const MoeSpec& e = w.model.moe;
    const long ep = w.parallel.ep;
    const double slots = ep > 1 ? std::ceil(double(e.experts + w.moe.redundant_experts + w.moe.shared_replicas) / double(ep))
                                : double(e.experts);
    const double shared = w.moe.shared_replicas > 0 ? 0.0 : double(e.shared_experts);
    return (slots + shared - double(e.experts + e.shared_experts)) * w.model.expert_params();
  }
  /// The MTP modules the decode step runs (their MoE layers split like the model's).
  [[nodiscard]] double mtp_rank_params() const {
    if (w.mtp_drafts == 0) return 0;
    const double per_module = w.model.mtp_params() / double(w.model.mtp_modules) +
                              (w.model.moe.enabled() ? expert_slot_change() : 0.0);
    return double(w.mtp_drafts) * per_module / tp;
  }
  [[nodiscard]] double matmul_params() const {
    // MoE and MLA layers: every weight this rank holds but the embedding table is a matmul
    // weight (norm weights are negligible).
    if (!block && (w.model.moe.enabled() || w.model.mla.enabled()))
      return params() - (first ? V * d / tp : 0.0);
    const double stage_frac = stage_layers_count() / double(w.model.layers);
    return (block ? layer_matmul_weights(w.model)
                  : (matmul_weights(w.model) - V * d) * stage_frac + ((first || last) ? V * d : 0.0)) / tp;
  }
};

void add_weights_and_optimizer(const StageMemory& m, MemoryPlan& plan) {
  const ParallelSpec& par = m.w.parallel;
  const double params = m.params();
  const bool split = par.tp > 1 || par.pp > 1 || par.attention == AttentionLayout::sp_tp_sp;
  plan.items.push_back({"weights", params * m.wb,
                        fmt::format("{:.4g} parameters{} x {} B", params, split ? " (this rank's shard)" : "", m.wb)});
  if (m.w.mtp_drafts > 0)
    plan.items.push_back({"mtp_weights", m.mtp_rank_params() * m.wb,
                          fmt::format("{} multi-token-prediction module(s) (this rank's experts)", m.w.mtp_drafts)});
  if (m.n.autocast)
    plan.items.push_back({"autocast_weight_cache", m.matmul_params() * m.ab,
                          "matmul weights cast to the compute dtype, cached by autocast"});
  if (m.w.phase != Phase::train) return;
  const double shard = par.zero == 1 ? par.dp : 1;
  const std::string z = par.zero == 1 ? fmt::format(", ZeRO-1 over {} replicas", par.dp) : "";
  if (m.w.optimizer == Optimizer::adamw)
    plan.items.push_back({"optimizer_state", params * 8 / shard, "AdamW exp_avg + exp_avg_sq, fp32" + z});
  else if (m.w.optimizer == Optimizer::sgd)
    plan.items.push_back({"optimizer_state", params * 4 / shard, "SGD momentum, fp32" + z});
}

/// Bytes one Llama-family layer saves for backward (HF eager, autocast or bf16 weights):
///   RMSNorm (x2): its input x (pow, mul), the normalised h (weight * h), rb B each, and with a
///     bf16 residual the fp32 upcast of x (4 B); replicated over tp unless sequence parallel.
///   Linear inputs: autocast casts the norm output again for each of q/k/v (3 bf16 copies) and
///     gate/up (2); with bf16 weights one tensor each (replicated over tp unless sp).
///   Attention (split over tp): q and k after RoPE, v (h*hd + 2*kvh*hd), the SDPA output
///     (h*hd) and its merged-heads copy, the o_proj input (h*hd).
///   SwiGLU (split over tp): gate output (silu input), up output, silu output, their product
///     (down_proj input): 4 f.
///   Dropout masks: 1 B per element, twice, only when the model trains with dropout.
double llama_layer_activations(const StageMemory& m) {
  const ModelSpec& md = m.w.model;
  const double sp = m.w.parallel.sp ? m.tp : 1.0;
  const double norm = 2 * m.rb + (m.rb != 4 ? 4 : 0);
  const double casts = m.n.autocast ? 5 : 2;
  const double masks = m.w.dropout && md.dropout > 0 ? 2 : 0;
  const double q = double(md.heads) * md.head_dim(), kv = kv_width(md);
  const double swiglu = md.mlp == Mlp::swiglu ? 4 : 2;
  return m.T * m.d * (2 * norm + casts * m.ab + masks) / sp +
         m.T * m.ab * (3 * q + 2 * kv + swiglu * m.f) / m.tp;
}

/// Bytes one GPT-2 / NeoX layer saves for backward (one tp rank), term by term; see
/// gpt_layer_saved() in the header for the equation.
GptLayerSaved gpt_layer_saved_of(const StageMemory& m) {
  const ParallelSpec& par = m.w.parallel;
  const double sp = par.sp ? m.tp : 1.0;
  const bool masks = m.w.dropout && m.w.model.dropout > 0;
  GptLayerSaved s;
  s.norm_inputs = m.T * m.d * 2 * m.rb / sp;
  s.dropout_masks = masks ? m.T * m.d * 2 / sp : 0.0;
  s.linear_inputs = m.T * m.d * 6 * m.ab / m.tp;
  s.attention_lse = m.T * double(m.w.model.heads) * 4 / m.tp;
  s.mlp = m.T * m.f * gelu_saved_bytes(m.w.model.activation, m.n) / m.tp;
  return s;
}

/// Large tensors alive at a training peak, each in its own 2 MiB-rounded segment of the caching
/// allocator: the 4 matmul weights of every layer in each of weights, gradients (end of backward;
/// not at the same time as all activations but their segments stay cached), the two AdamW moments
/// and the autocast copies; and every layer's saved tensors (2 norm inputs, 2 masks, 4 Linear
/// inputs / q,k,v, 2 or 5 MLP tensors). Only GPT-style layers are counted (others: 0).
double large_training_tensors(const StageMemory& m, double in_flight) {
  if (!m.w.model.is_gpt_style() || m.block) return 0;
  const double mib = 1024.0 * 1024.0;
  const double layers = m.stage_layers_count();
  const double copies = 1 + 1 + (m.w.optimizer == Optimizer::adamw ? 2 : 1) + (m.n.autocast ? 1 : 0);
  const double weights = m.d * m.d * m.wb / m.tp > mib ? 4 * layers * copies : 0.0;
  const bool masks = m.w.dropout && m.w.model.dropout > 0;
  const double mlp_tensors = m.w.model.activation == Activation::gelu_new ? 5 : 2;
  const double acts = m.T * m.d * m.ab / m.tp > mib ? layers * in_flight * (2 + (masks ? 2 : 0) + 4 + mlp_tensors) : 0.0;
  return weights + acts;
}

void add_training_tensors(const StageMemory& m, MemoryPlan& plan) {
  const ParallelSpec& par = m.w.parallel;
  // Tensor parallel (Korthikanti et al. Table 2): norm inputs and dropout masks are replicated
  // (split too with sequence parallelism); the rest of the layer's tensors are split over tp.
  const double per_layer = m.w.model.is_gpt_style() ? gpt_layer_saved_of(m).total() : llama_layer_activations(m);
  const double layers = m.block ? 1 : m.stage_layers_count();
  const double in_flight = std::min<double>(par.pp - m.stage, m.mb);
  const double acts = in_flight * (layers * per_layer + (m.block || !m.first ? 0 : m.T * m.d * (3 * m.rb + m.ab)));
  plan.large_tensors = large_training_tensors(m, in_flight);
  plan.items.push_back({"activations", acts,
                        fmt::format("saved for backward: {} micro-batch(es) x {} layer(s) x {}",
                                    in_flight, layers, format_quantity(per_layer, Dim::Bytes))});
  // Gradients appear during backward as activations are freed; the peak holds roughly
  // all activations and the gradients of the last layers. Count the larger of the two
  // moments: start of backward (activations + logits) and end (all gradients).
  const double logits = m.block || !m.last ? 0 : m.T * m.V / m.tp * (m.ab + 12);
  if (logits > 0) plan.items.push_back({"logits", logits, "bf16 logits, fp32 copy, log-softmax and its gradient"});
  const double grads = m.params() * m.wb;
  if (grads > acts + logits) {
    plan.items.push_back({"gradients", grads - acts - logits,
                          "gradients in excess of the activations they replace"});
  } else {
    plan.items.push_back({"gradients", 0, "allocated while activations are freed"});
  }
}

void add_inference_tensors(const StageMemory& m, MemoryPlan& plan) {
  const WorkloadSpec& w = m.w;
  const double tokens = w.phase == Phase::decode ? m.S + double(w.decode_tokens) : m.S;
  if (!m.block) {
    const double layers = m.stage_layers_count();
    const MlaSpec& mla = w.model.mla;
    if (mla.enabled()) {
      // MLA: the latent c_kv and the shared RoPE key per token per layer, replicated on every
      // tp rank (all heads read it): layers * B * tokens * (kv_lora_rank + qk_rope_head_dim) * ab.
      const double width = double(mla.kv_lora_rank + mla.qk_rope_head_dim);
      plan.items.push_back({"kv_cache", layers * m.B * tokens * width * m.ab,
                            fmt::format("{} layers x {} x {} tokens x (kv_lora_rank {} + qk_rope_head_dim {}) x {} B",
                                        layers, m.B, tokens, mla.kv_lora_rank, mla.qk_rope_head_dim, m.ab)});
      if (w.phase == Phase::decode && w.framework == Framework::eager)
        plan.items.push_back({"kv_concat_copy", m.B * tokens * width * m.ab, "torch.cat of one layer's latent cache"});
    } else {
      // K and V per token per layer: d each (MHA) or kv_heads x head_dim (grouped-query).
      const bool gqa = !w.model.is_gpt_style();
      const double kvw = kv_width(w.model);
      const double kv = 2 * layers * m.B * tokens * kvw * m.ab / m.tp;
      plan.items.push_back({"kv_cache", kv, fmt::format("2 x {} layers x {} x {} tokens x {}{} x {} B", layers, m.B, tokens,
                                                        gqa ? fmt::format("kv_heads*head_dim {}", kvw) : "d",
                                                        w.parallel.tp > 1 ? fmt::format("/{}", w.parallel.tp) : "", m.ab)});
      if (w.phase == Phase::decode && w.framework == Framework::eager)
        plan.items.push_back({"kv_concat_copy", 2 * m.B * tokens * kvw * m.ab / m.tp, "torch.cat of one layer's K and V"});
    }
  }
  if (w.parallel.attention == AttentionLayout::sp_tp_sp) {
    // The latents of the attention group's tokens, gathered for stage 2 (alive with its q, k, v).
    const MlaSpec& mla = w.model.mla;
    const double g = double(w.parallel.attention_group);
    const double width = double(mla.q_lora_rank + mla.kv_lora_rank + mla.qk_rope_head_dim);
    plan.items.push_back({"gathered_latents", g * m.T * width * m.ab,
                          fmt::format("attention group of {} x {} tokens x (q_lora_rank + kv_lora_rank + "
                                      "qk_rope_head_dim = {}) x {} B", g, m.T, width, m.ab)});
  }
  const double step_tokens = w.phase == Phase::decode ? m.B : m.T;
  // logits: all returns a micro-batch's logits at every prompt position, in the activation
  // dtype; otherwise the last positions' logits and their fp32 copy are in the workspace.
  const bool all_logits = w.phase == Phase::prefill && w.prefill_all_logits;
  if (all_logits && m.last)
    plan.items.push_back({"logits", m.T * m.V / m.tp * m.ab, "logits of every prompt position (logits: all)"});
  // Largest transients: the q/k/v outputs (3d; Llama: h*hd + 2 kv width) and the MLP's inner
  // tensors (f; SwiGLU: gate, up and silu output alive together, 3f), two residual-dtype rows.
  const ModelSpec& md = w.model;
  const double transient = md.is_gpt_style()
                               ? 3 * m.d + m.f
                               : double(md.heads) * md.head_dim() + 2 * kv_width(md) +
                                     (md.mlp == Mlp::swiglu ? 3 : 1) * m.f;
  plan.items.push_back({"workspace", step_tokens * transient * m.ab + step_tokens * m.d * m.rb * 2 +
                                         (m.block || all_logits ? 0 : m.B * m.V * (m.ab + 4)),
                        "largest transient activations of one layer, and the last logits"});
}

/// cuBLAS workspaces: one per (thread, stream) that runs a GEMM — the main thread, and in a
/// backward pass the autograd engine's device thread as well.
void add_library_workspace(const WorkloadSpec& w, MemoryPlan& plan) {
  const bool backward = w.phase == Phase::train || (w.phase == Phase::block && w.backward);
  plan.items.push_back({"cublas_workspace", (backward ? 2 : 1) * kCublasWorkspace,
                        backward ? "32 MiB per thread running GEMMs: forward (main) and backward (autograd)"
                                 : "32 MiB for the thread running GEMMs"});
}

}  // namespace

double gelu_saved_bytes(Activation a, const Numerics& n) {
  const double ab = dtype_bytes(n.act);
  if (a != Activation::gelu_new) return 2 * ab;
  return n.autocast ? 3 * 4 + 2 * ab : 5 * ab;
}

GptLayerSaved gpt_layer_saved(const WorkloadSpec& w) { return gpt_layer_saved_of(StageMemory{w, 0}); }

BlockMemory block_memory(const WorkloadSpec& w) {
  const StageMemory m{w, 0};
  const double cache = m.n.autocast ? layer_matmul_weights(w.model) * m.ab / m.tp : 0.0;
  const double input = m.T * m.d * m.rb;
  BlockMemory b;
  b.saved = cache + gpt_layer_saved_of(m).total() - input;
  const double output = m.T * m.d * m.rb;
  const bool fp32_gelu = w.model.activation == Activation::gelu_new && m.n.autocast;
  b.fwd_peak = b.saved + output + m.T * m.d * m.ab + (fp32_gelu ? m.T * m.f * 4 : 0.0);
  b.fwdbwd_peak = b.saved + output + w.model.block_params() / m.tp * 4 + m.T * m.d * m.rb + 2 * m.T * m.f * m.ab / m.tp;
  return b;
}

MemoryPlan plan_memory(const WorkloadSpec& w, int stage) {
  if (w.phase == Phase::microbench) return microbench_plan(w);
  MemoryPlan plan;
  const StageMemory m{w, stage};
  add_weights_and_optimizer(m, plan);
  if (w.phase == Phase::train || (m.block && w.backward)) add_training_tensors(m, plan);
  else add_inference_tensors(m, plan);
  add_library_workspace(w, plan);
  for (const auto& item : plan.items) plan.peak += item.bytes;
  // PyTorch's caching allocator rounds every request up to 512 B (negligible here) and gives
  // each request above 10 MiB its own segment rounded up to 2 MiB: on average 1 MiB per large
  // tensor is reserved but not allocated. Fragmentation (free cached blocks too small for the
  // next request) comes on top and is not modelled, so `reserved` is a lower bound.
  plan.reserved = plan.peak + plan.large_tensors * 1024.0 * 1024.0;
  return plan;
}

std::string format_memory_plan(const MemoryPlan& plan, double capacity) {
  std::string out;
  for (const auto& item : plan.items) {
    if (item.bytes <= 0) continue;
    out += fmt::format("  {:<24} {:>12}  {}\n", item.name, format_quantity(item.bytes, Dim::Bytes), item.note);
  }
  out += fmt::format("  {:<24} {:>12}  peak allocated (torch.cuda.max_memory_allocated)\n", "total",
                     format_quantity(plan.peak, Dim::Bytes));
  if (plan.reserved > plan.peak)
    out += fmt::format("  {:<24} {:>12}  at least: + 1 MiB per large tensor ({:.0f}) of 2 MiB segment rounding\n",
                       "reserved (allocator)", format_quantity(plan.reserved, Dim::Bytes), plan.large_tensors);
  out += fmt::format("  {:<24} {:>12}\n", "device capacity", format_quantity(capacity, Dim::Bytes));
  return out;
}

void check_fits(const MemoryPlan& plan, double capacity, const std::string& device) {
  if (plan.peak <= capacity) return;
  throw DoesNotFitError(fmt::format(
      "workload does not fit in {} memory: needs {} but the device has {} ({:.0f}% over)\n{}",
      device, format_quantity(plan.peak, Dim::Bytes), format_quantity(capacity, Dim::Bytes),
      (plan.peak / capacity - 1) * 100, format_memory_plan(plan, capacity)));
}

}  // namespace orrery
