#include "workloads/schedules/stage_program.h"

#include "workloads/blocks/transformer_layer.h"

namespace orrery::transformer {

void StageProgram::forward(const Steps& p, int layer) {
  g.set_layer(layer);
  for (const auto& s : p)
    if (!s.fwd.name.empty()) g.add(s.fwd);  // a backward-only step has no forward op
}

void StageProgram::backward(const Steps& p, int layer) {
  g.set_layer(layer);
  for (auto it = p.rbegin(); it != p.rend(); ++it)
    for (const auto& op : it->bwd) g.add(op);
}

void StageProgram::bookkeeping(double batch) {
  // HF generate per token: argmax, finished-sequence masking, cat of input_ids and attention
  // mask, cache position and stopping criteria: about 12 small kernels, then a host sync
  // (`unfinished_sequences.max() == 0`).
  g.set_layer(-1);
  g.add(make_vector("generate.bookkeeping", "bookkeeping", batch * 16, 8, 1, Dtype::fp32, 12));
  g.sync_last();
}

void overlapped_layers(StageProgram& s, const Dims& x, const LayerCall& call,
                       std::vector<std::vector<OpId>>& ready) {
  // Chains 1 and 2 run on device streams of their own, on partitions 1 and 2.
  constexpr int kAttentionChain = 1, kFeedForwardChain = 2;
  constexpr int kAttentionStream = 11, kFeedForwardStream = 12;
  s.g.set_partitions(s.w.overlap);
  const PipelineStage& st = s.stage();
  for (int l = st.l0; l < st.l1; ++l)
    for (auto& r : ready) {
      LayerHalves h = transformer_layer_halves(s.ctx, l, x, call);
      s.g.use_chain(kAttentionChain, kAttentionStream, 1, r);
      s.forward(h.attention, l);
      r = {static_cast<OpId>(s.g.last())};
      s.g.use_chain(kFeedForwardChain, kFeedForwardStream, 2, r);
      s.forward(h.feed_forward, l);
      r = {static_cast<OpId>(s.g.last())};
    }
  std::vector<OpId> all;
  for (const auto& r : ready) all.insert(all.end(), r.begin(), r.end());
  s.g.use_chain(0, 0, 0, all);
}

}  // namespace orrery::transformer
