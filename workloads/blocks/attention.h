// Self-attention block (GPT-2 / GPT-NeoX): qkv projection, rotary (NeoX), KV-cache update
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
/// Parameter tensors of the block in DDP's backward order: proj (+bias), qkv (+bias).
[[nodiscard]] std::vector<double> attention_gradients(const ModelSpec& m);

}  // namespace orrery::transformer
