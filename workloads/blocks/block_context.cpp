#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

BlockContext::BlockContext(const WorkloadSpec& w_, int stage_)
    : w(w_), m(w_.model), n(numerics_of(w_)), tp(w_.parallel),
      stage(w_.model.layers, w_.parallel.pp, stage_) {
  rb = dtype_bytes(n.residual);
  ab = dtype_bytes(n.act);
  wb = dtype_bytes(n.weights);
}

Dims BlockContext::dims(double batch, double tokens_per_seq) const {
  return {batch, tokens_per_seq, batch * tokens_per_seq, double(m.hidden), double(m.ffn),
          double(m.heads), m.head_dim(), double(m.vocab)};
}

}  // namespace orrery::transformer
