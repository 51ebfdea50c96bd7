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
  const long kv_heads = m.kv_heads > 0 ? m.kv_heads : m.heads;  // 0: not given, MHA
  const double d = double(m.hidden), hd = m.head_dim(), kvh = double(kv_heads);
  // GPT-2 / NeoX: q, k and v are each d wide (kept exact: d/h*h need not round-trip).
  const bool mha = m.explicit_head_dim == 0 && kv_heads == m.heads;
  return {batch, tokens_per_seq, batch * tokens_per_seq, d, double(m.ffn),
          double(m.heads), hd, double(m.vocab), kvh,
          mha ? d : double(m.heads) * hd, mha ? d : kvh * hd};
}

}  // namespace orrery::transformer
