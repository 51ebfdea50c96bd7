#include "workloads/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/config/errors.h"
#include "sim/units/quantity.h"
#include "workloads/builders/transformer.h"

namespace orrery {

namespace {

double matmul_weights(const ModelSpec& m) {
  const double d = double(m.hidden), f = double(m.ffn);
  return double(m.layers) * (4 * d * d + 2 * d * f) + double(m.vocab) * d;
}

}  // namespace

MemoryPlan plan_memory(const WorkloadSpec& w, int stage) {
  MemoryPlan plan;
  if (w.phase == Phase::microbench) {
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
  const ModelSpec& m = w.model;
  const Numerics n = numerics_of(w);
  const double rb = dtype_bytes(n.residual), ab = dtype_bytes(n.act), wb = dtype_bytes(n.weights);
  const double d = double(m.hidden), f = double(m.ffn), V = double(m.vocab), L = double(m.layers);
  const double B = double(w.batch), S = double(w.seq_len);
  const bool block = w.phase == Phase::block;
  // Parallelism: this rank holds its pipeline stage's layers, split over tp; ZeRO-1 splits the
  // optimizer state over dp; 1F1B keeps up to pp - stage micro-batches' activations alive.
  const ParallelSpec& par = w.parallel;
  const double tp = par.tp, mb = double(par.microbatches);
  const auto [l0, l1] = stage_layers(m.layers, par.pp, stage);
  const bool first = stage == 0, last = stage == par.pp - 1;
  const double stage_frac = double(l1 - l0) / L;
  double params = (block ? m.block_params() : m.stage_params(l1 - l0, first, last)) / tp;
  const double mm_params = (block ? (4 * d * d + 2 * d * f)
                                  : (matmul_weights(m) - V * d) * stage_frac +
                                        ((first || last) ? V * d : 0.0)) / tp;
  plan.items.push_back({"weights", params * wb,
                        fmt::format("{:.4g} parameters{} x {} B", params,
                                    par.tp > 1 || par.pp > 1 ? " (this rank's shard)" : "", wb)});
  if (n.autocast)
    plan.items.push_back({"autocast_weight_cache", mm_params * ab,
                          "matmul weights cast to the compute dtype, cached by autocast"});
  const bool trains = w.phase == Phase::train || (block && w.backward);
  if (w.phase == Phase::train) {
    const double shard = par.zero == 1 ? par.dp : 1;
    const std::string z = par.zero == 1 ? fmt::format(", ZeRO-1 over {} replicas", par.dp) : "";
    if (w.optimizer == Optimizer::adamw)
      plan.items.push_back({"optimizer_state", params * 8 / shard, "AdamW exp_avg + exp_avg_sq, fp32" + z});
    else if (w.optimizer == Optimizer::sgd)
      plan.items.push_back({"optimizer_state", params * 4 / shard, "SGD momentum, fp32" + z});
  }
  // HF gelu_new saves tanh(.), 0.5*x and 1+tanh(.) besides its input and output.
  const double gelu_saved = m.activation == Activation::gelu_new ? 5 : 2;
  const double T = B * S / mb;  // tokens of one micro-batch
  // Tensor parallel (Korthikanti et al. Table 2): norm inputs and dropout masks are replicated
  // (split too with sequence parallelism); the rest of the layer's tensors are split over tp.
  const double replicated = (2 * rb + 2) / (par.sp ? tp : 1.0);
  const double per_layer = T * d * (replicated + 6 * ab / tp) + T * f * ab * gelu_saved / tp;
  if (trains) {
    const double layers = block ? 1 : double(l1 - l0);
    const double in_flight = std::min<double>(par.pp - stage, mb);
    const double acts = in_flight * (layers * per_layer + (block || !first ? 0 : T * d * (3 * rb + ab)));
    plan.items.push_back({"activations", acts,
                          fmt::format("saved for backward: {} micro-batch(es) x {} layer(s) x {}",
                                      in_flight, layers, format_quantity(per_layer, Dim::Bytes))});
    // Gradients appear during backward as activations are freed; the peak holds roughly
    // all activations and the gradients of the last layers. Count the larger of the two
    // moments: start of backward (activations + logits) and end (all gradients).
    const double logits = block || !last ? 0 : T * V / tp * (ab + 12);
    if (logits > 0) plan.items.push_back({"logits", logits, "bf16 logits, fp32 copy, log-softmax and its gradient"});
    const double grads = params * wb;
    if (grads > acts + logits) {
      plan.items.push_back({"gradients", grads - acts - logits,
                            "gradients in excess of the activations they replace"});
    } else {
      plan.items.push_back({"gradients", 0, "allocated while activations are freed"});
    }
  } else {
    const double tokens = w.phase == Phase::decode ? S + double(w.decode_tokens) : S;
    if (!block) {
      const double layers = double(l1 - l0);
      const double kv = 2 * layers * B * tokens * d * ab / tp;
      plan.items.push_back({"kv_cache", kv, fmt::format("2 x {} layers x {} x {} tokens x d{} x {} B", layers, B, tokens,
                                                        par.tp > 1 ? fmt::format("/{}", par.tp) : "", ab)});
      if (w.phase == Phase::decode && w.framework == Framework::eager)
        plan.items.push_back({"kv_concat_copy", 2 * B * tokens * d * ab / tp, "torch.cat of one layer's K and V"});
    }
    const double step_tokens = w.phase == Phase::decode ? B : T;
    plan.items.push_back({"workspace", step_tokens * (3 * d + f) * ab + step_tokens * d * rb * 2 +
                                           (block ? 0 : B * V * (ab + 4)),
                          "largest transient activations of one layer, and the last logits"});
  }
  for (const auto& item : plan.items) plan.peak += item.bytes;
  return plan;
}

std::string format_memory_plan(const MemoryPlan& plan, double capacity) {
  std::string out;
  for (const auto& item : plan.items) {
    if (item.bytes <= 0) continue;
    out += fmt::format("  {:<24} {:>12}  {}\n", item.name, format_quantity(item.bytes, Dim::Bytes), item.note);
  }
  out += fmt::format("  {:<24} {:>12}\n", "total", format_quantity(plan.peak, Dim::Bytes));
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
