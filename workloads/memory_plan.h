// Device-memory accounting of a workload: what is resident at the peak, item by item.
#pragma once
#include <string>
#include <vector>

#include "workloads/blocks/numerics.h"
#include "workloads/workload.h"

namespace orrery {

struct MemoryItem {
  std::string name;   // weights, gradients, optimizer_state, autocast_weight_cache, activations, kv_cache, workspace
  double bytes = 0;
  std::string note;   // how it was computed
};

struct MemoryPlan {
  std::vector<MemoryItem> items;
  double peak = 0;      // bytes allocated at the peak (what torch.cuda.max_memory_allocated reports)
  double reserved = 0;  // lower bound of what the caching allocator reserves at that peak
  double large_tensors = 0;  // tensors of more than 1 MiB alive at the peak (each in a 2 MiB-rounded segment)
};

/// Bytes a GPT-2-style MLP saves per element of its f-wide hidden tensor (HF eager):
///   one-kernel GELU (gelu, gelu_tanh): its input h and output g, 2*ab;
///   HF gelu_new, 0.5*h*(1 + tanh(sqrt(2/pi)*(h + 0.044715*h^3))) op by op: pow saves h,
///     tanh its output t, the final mul 0.5*h and 1+t, fc2 its input g: 5 tensors of ab — but
///     under autocast pow runs in fp32 (autocast's fp32 op list), so h, t and 1+t are fp32:
///     3*4 + 2*ab.
[[nodiscard]] double gelu_saved_bytes(Activation a, const Numerics& n);

/// What one GPT-2 / NeoX layer keeps for backward, on one tensor-parallel rank (T tokens):
///   norm_inputs   = 2 * T*d*rb          LN1 and LN2 inputs (the residual stream)
///   dropout_masks = 2 * T*d*1 B         after attention proj and fc2, when training with dropout
///   linear_inputs = 6 * T*d*ab / tp     LN1 output cast for qkv (1), q, k, v (3, also what
///                                       flash attention saves), attention output = proj input
///                                       (1), LN2 output cast for fc1 (1)
///   attention_lse = T*heads*4 B / tp    flash attention's fp32 log-sum-exp per row
///   mlp           = T*f*gelu_saved_bytes / tp
/// (norm inputs and masks are split over tp only with sequence parallelism.)
struct GptLayerSaved {
  double norm_inputs = 0, dropout_masks = 0, linear_inputs = 0, attention_lse = 0, mlp = 0;
  [[nodiscard]] double total() const { return norm_inputs + dropout_masks + linear_inputs + attention_lse + mlp; }
};
[[nodiscard]] GptLayerSaved gpt_layer_saved(const WorkloadSpec& w);

/// One GPT-2-style block run alone (phase: block, backward: true), as a memory micro-benchmark
/// measures it: the input (fp32, requires grad) exists before the call, bytes are over the start.
///   saved       = autocast weight cache + layer saved bytes - the input (LN1's input)
///   fwd_peak    = saved + output (T*d*rb) + fwd transient: fc2's output (T*d*ab), with
///                 gelu_new under autocast also the fp32 GELU output still alive (T*f*4)
///   fwdbwd_peak = saved + output + fp32 weight gradients (4 B per block parameter) + the
///                 output's gradient (T*d*rb) + the MLP's two f-wide gradients in ab (of the
///                 GELU output and input), alive together at the start of the backward
struct BlockMemory {
  double saved = 0, fwd_peak = 0, fwdbwd_peak = 0;
};
[[nodiscard]] BlockMemory block_memory(const WorkloadSpec& w);

/// cuBLAS workspace PyTorch allocates through its caching allocator per (thread, stream) on its
/// first GEMM: CUBLAS_WORKSPACE_CONFIG default on Hopper (sm90) is 8 x 4 MiB.
inline constexpr double kCublasWorkspace = 32.0 * 1024 * 1024;

/// Peak memory = persistent state + the largest set of transient tensors alive at once.
/// Equations (per layer, T = batch*seq tokens, d hidden, f ffn, rb/ab residual/act bytes):
///   saved activations = gpt_layer_saved (above): T*d*(2*rb + 6*ab + 2 with dropout)
///                       + T*heads*4 + T*f*gelu_saved_bytes
///   (Korthikanti et al. 2022, "Reducing Activation Recomputation", Table 2, with flash
///   attention removing the s^2 terms; checked on the H200 block_memory rows)
///   logits (train) = T*V*(ab + 12): bf16 logits, fp32 copy, log-softmax and its gradient
///   logits (prefill, logits: all) = T*V*ab: every position's, nothing sampled
///   KV cache = 2 * layers * batch * tokens * d * ab
///   (MLA: layers * batch * tokens * (kv_lora_rank + qk_rope_head_dim) * ab, the latent cache)
/// With w.parallel: the plan of one rank of pipeline stage `stage`.
[[nodiscard]] MemoryPlan plan_memory(const WorkloadSpec& w, int stage = 0);

/// Throws DoesNotFitError with the breakdown when plan.peak > capacity.
void check_fits(const MemoryPlan& plan, double capacity, const std::string& device);

[[nodiscard]] std::string format_memory_plan(const MemoryPlan& plan, double capacity);

}  // namespace orrery
