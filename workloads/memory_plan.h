// Device-memory accounting of a workload: what is resident at the peak, item by item.
#pragma once
#include <string>
#include <vector>

#include "workloads/workload.h"

namespace orrery {

struct MemoryItem {
  std::string name;   // weights, gradients, optimizer_state, autocast_weight_cache, activations, kv_cache, workspace
  double bytes = 0;
  std::string note;   // how it was computed
};

struct MemoryPlan {
  std::vector<MemoryItem> items;
  double peak = 0;    // bytes: sum of the items resident together at the peak
};

/// Peak memory = persistent state + the largest set of transient tensors alive at once.
/// Equations (per layer, T = batch*seq tokens, d hidden, f ffn, rb/ab residual/act bytes):
///   saved activations = T*d*(2*rb + 6*ab + 2) + T*f*ab*(2, or 5 with HF gelu_new)
///   (Korthikanti et al. 2022, "Reducing Activation Recomputation", Table 2, with flash
///   attention removing the s^2 terms)
///   logits (train) = T*V*(ab + 12): bf16 logits, fp32 copy, log-softmax and its gradient
///   KV cache = 2 * layers * batch * tokens * d * ab
///   (MLA: layers * batch * tokens * (kv_lora_rank + qk_rope_head_dim) * ab, the latent cache)
/// With w.parallel: the plan of one rank of pipeline stage `stage`.
[[nodiscard]] MemoryPlan plan_memory(const WorkloadSpec& w, int stage = 0);

/// Throws DoesNotFitError with the breakdown when plan.peak > capacity.
void check_fits(const MemoryPlan& plan, double capacity, const std::string& device);

[[nodiscard]] std::string format_memory_plan(const MemoryPlan& plan, double capacity);

}  // namespace orrery
