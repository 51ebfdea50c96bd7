// Self-attention block (GPT-2 / GPT-NeoX; Llama family with grouped-query heads): qkv projection, rotary (NeoX), KV-cache update
// (decode), fused attention, head merge and output projection, inside one tensor-parallel
// region (Megatron: qkv split by columns, proj by rows, heads/tp heads per rank).
#pragma once
#include <string>
#include <vector>

#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// How a layer is called: first forward of the step (autocast casts the weights, later calls
/// reuse the cast), and for decode the KV length the new token attends to.
struct LayerCall {
  bool first_forward = true;
  bool decode = false;
  double kv_len = 0;
};

/// Appends the attention block of layer prefix `p` (e.g. "h3") to `prog`.
void attention_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call);
/// GPT-2 / NeoX fuse q, k and v into one projection (c_attn, query_key_value); the Llama
/// family (Llama, Mistral, Qwen2) has q_proj, k_proj, v_proj and o_proj.
[[nodiscard]] bool fused_qkv(const ModelSpec& m);
/// Parameter tensors of the block in DDP's backward order: proj (+bias), qkv (+bias); Llama
/// family: o_proj (+bias), v_proj, k_proj, q_proj (+qkv biases).
[[nodiscard]] std::vector<double> attention_gradients(const ModelSpec& m);

}  // namespace orrery::transformer
