#include "workloads/blocks/embedding.h"

#include "workloads/blocks/attention.h"
#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

Steps embedding_block(const BlockContext& c, const Dims& x) {
  Steps p;
  const double T = x.T, d = x.d, rb = c.rb, wb = c.wb;
  const Dtype dt = c.n.residual;
  // Gather rows of the token table; backward zero-fills the table's gradient and index-adds
  // (embedding_dense_backward: about 4 kernels).
  // Module calls: the LM model, the base model, the token embedding (and the embedding
  // dropout, an identity outside training).
  const int model_modules = c.dropout() ? 3 : 4;
  p.push_back({with_modules(cold(make_vector("wte", "embedding", T * d, 2 * rb, 0, dt)), model_modules),
               {with_nodes(make_vector("wte.bwd", "embedding_bwd", c.tp.shard(x.V) * d + 3 * T * d, wb, 1,
                                       dt, 4), 2)}});
  // Vocab-parallel embedding: each rank looks up its rows; the partial sums are reduced.
  c.tp.leave(p, "wte", T, d, rb);
  if (c.m.learned_positions) {
    const double P = static_cast<double>(c.m.max_positions);
    p.push_back({with_modules(make_vector("wpe", "embedding", T * d, 2 * rb, 0, dt), 1),
                 {with_nodes(make_vector("wpe.bwd", "embedding_bwd", P * d + 3 * T * d, wb, 1, dt, 4), 2)}});
    p.push_back({make_vector("embed.add", "add", T * d, 3 * rb, 1, dt), {}});
  }
  if (c.dropout()) p.push_back(dropout(c, "embed.dropout", T * d));
  if (!fused_qkv(c.m) && c.m.rotary_fraction > 0) {
    // HF LlamaRotaryEmbedding, once per forward for all layers (no gradient): freqs =
    // inv_freq @ positions (fp32, autocast off), emb = cat(freqs, freqs), cos, sin, two muls
    // by attention_scaling, and (bf16 residual) two casts: per element of T x hd
    // 2 + 6 + 8 + 8 + 16 B (+ 2 (4 + rb) B for the casts), 7 kernels (+2).
    const bool casts = c.rb != 4;
    p.push_back({with_modules(make_vector("rotary_emb", "rotary", T * x.hd,
                                          40 + (casts ? 2 * (4 + c.rb) : 0), 2, Dtype::fp32,
                                          7 + (casts ? 2 : 0)), 1), {}});
  }
  return p;
}

double embedding_gradients(const ModelSpec& m) {
  const double d = double(m.hidden), V = double(m.vocab);
  return V * d + (m.learned_positions ? double(m.max_positions) * d : 0.0);
}

}  // namespace orrery::transformer
