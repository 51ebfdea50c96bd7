// The model's ends: token (and learned position) embeddings on the first pipeline stage; the
// final norm, LM head and loss or sampling logits on the last.
#pragma once
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// wte (vocab-parallel under tensor parallelism), wpe, their sum and the embedding dropout.
[[nodiscard]] Steps embedding_block(const BlockContext& c, const Dims& x);
/// Parameters of the embeddings (DDP reduces them last): V*d (+ positions*d).
[[nodiscard]] double embedding_gradients(const ModelSpec& m);

/// ln_f, lm_head (vocab-parallel), logits.float(), and the cross-entropy loss (`loss`) or the
/// logits for sampling (generation: only the last token of each sequence). `every_position`:
/// a plain forward's head: every token's logits, returned in the activation dtype (no upcast).
[[nodiscard]] Steps head_block(const BlockContext& c, const Dims& x, bool loss, bool first_forward,
                               bool every_position = false);
/// Parameters of the head (DDP reduces them first): ln_f (LayerNorm 2d, RMSNorm d), and the LM head unless it is the
/// embedding table of this same stage (tied).
[[nodiscard]] double head_gradients(const BlockContext& c);

}  // namespace orrery::transformer
