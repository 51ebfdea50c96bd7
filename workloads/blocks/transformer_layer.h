// One transformer layer composed from blocks: pre-norm attention and feed-forward branches
// with their residual adds (GPT-2, Llama family: sequential; GPT-NeoX: parallel residual).
// The norms are LayerNorm or RMSNorm, the feed-forward GELU or SwiGLU, by the model.
#pragma once
#include <string>
#include <vector>

#include "workloads/blocks/attention.h"
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// Steps of layer `l` (named "h<l>.*").
[[nodiscard]] Steps transformer_layer(const BlockContext& c, int l, const Dims& x,
                                      const LayerCall& call, const std::string& prefix = "");
/// The same steps in two halves: attention (norm, attention, residual add, second norm) and
/// feed-forward (MLP or MoE, residual add) — what the two streams of overlapped micro-batches
/// run (CloudMatrix-Infer: attention stream and MoE stream). Concatenated they are
/// transformer_layer(). Not for a parallel-residual model (its branches read the same input).
struct LayerHalves {
  Steps attention, feed_forward;
};
[[nodiscard]] LayerHalves transformer_layer_halves(const BlockContext& c, int l, const Dims& x,
                                                   const LayerCall& call);
/// Parameter tensors of one layer in the order DDP fills its buckets in backward:
/// feed-forward, attention, then the two norms.
[[nodiscard]] std::vector<double> layer_gradients(const ModelSpec& m);

}  // namespace orrery::transformer
