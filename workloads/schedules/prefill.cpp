// Prefill: forward of the prompt, micro-batch by micro-batch through the pipeline stages, and
// on the last stage either generate's sampling of the first token (logits: last) or a plain
// forward's logits of every position, then a sync (logits: all).
#include "workloads/blocks/embedding.h"
#include "workloads/blocks/transformer_layer.h"
#include "workloads/schedules/stage_program.h"

namespace orrery::transformer {

namespace {

/// The last stage's end of a micro-batch: generate's head (the last position's logits,
/// upcast) and sampling, or a plain forward's head over every position and the sync that
/// times it (model(input_ids) followed by torch.cuda.synchronize()).
void prefill_tail(StageProgram& s, const Dims& x) {
  const bool plain = s.w.prefill_all_logits;
  s.forward(head_block(s.ctx, x, false, true, plain), -1);
  if (plain)
    s.g.sync_last();
  else
    s.bookkeeping(x.B);
}

}  // namespace

void prefill(StageProgram& s, int it) {
  s.g.set_iteration(it);
  const BlockContext& c = s.ctx;
  const PipelineStage& st = c.stage;
  const int m = s.par().microbatches;
  const Dims x = c.dims(static_cast<double>(s.w.batch) / m, static_cast<double>(s.w.seq_len));
  s.g.set_pass(Pass::Forward);
  const double boundary = boundary_bytes(x.T, x.d, c.rb, c.tp.ways(), c.tp.sp());
  if (!s.w.overlap.empty()) {
    // Layers overlapped on two core partitions (pp = 1): embeddings, layers, heads.
    std::vector<std::vector<OpId>> ready(static_cast<size_t>(m));
    for (auto& r : ready) {
      s.forward(embedding_block(c, x), -1);
      r = {static_cast<OpId>(s.g.last())};
    }
    overlapped_layers(s, x, {}, ready);
    for (int j = 0; j < m; ++j) prefill_tail(s, x);
    s.g.join_side();
    return;
  }
  for (int j = 0; j < m; ++j) {
    const int tag = micro_batch_tag(it, 0, j, s.w.grad_accum, m);
    if (!st.first()) pipeline_recv(s.g, "pp.recv_activations", boundary, CommGroup::PipelinePrev, tag);
    if (st.first()) s.forward(embedding_block(c, x), -1);
    for (int l = st.l0; l < st.l1; ++l) s.forward(transformer_layer(c, l, x, {}), l);
    if (!st.last()) pipeline_send(s.g, "pp.send_activations", boundary, CommGroup::PipelineNext, tag);
    if (st.last()) prefill_tail(s, x);
  }
  s.g.join_side();
}

}  // namespace orrery::transformer
