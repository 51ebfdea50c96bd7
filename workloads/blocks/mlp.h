// Dense MLP block: fc1 -> activation -> fc2 inside one tensor-parallel region (Megatron: fc1
// split by columns, fc2 by rows, ffn/tp channels per rank), or SwiGLU (Llama family): gate and
// up projections split by columns, silu(gate) * up, down projection split by rows. The layer picks its feed-forward
// block in blocks/transformer_layer.cpp; a mixture-of-experts block goes beside this one.
#pragma once
#include <string>
#include <vector>

#include "workloads/blocks/attention.h"
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// Appends the dense MLP of layer prefix `p` (e.g. "h3") to `prog`.
void dense_mlp_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call);
/// Parameter tensors of the block in DDP's backward order: fc2 (+bias), fc1 (+bias); SwiGLU:
/// down, up, gate (+biases when the model has them).
[[nodiscard]] std::vector<double> dense_mlp_gradients(const ModelSpec& m);

}  // namespace orrery::transformer
