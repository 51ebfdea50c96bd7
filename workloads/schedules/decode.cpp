// Decode: one token per sequence per step against the KV cache, micro-batch by micro-batch
// through the pipeline stages; the last stage returns the new tokens to the first.
#include <fmt/format.h>

#include "workloads/blocks/embedding.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/blocks/ops.h"
#include "workloads/blocks/transformer_layer.h"
#include "workloads/schedules/stage_program.h"

namespace orrery::transformer {

namespace {

/// Multi-token prediction (DeepSeek-V3 §2.2): after the main model, MTP module i drafts the
/// token after the one the previous module (or the model) predicted: project [norm(h);
/// norm(emb)] (2d -> d), one transformer layer of the model's last kind, the shared LM head.
/// The next step verifies the drafts: the main model then runs 1 + drafts tokens per sequence.
void mtp_drafts(StageProgram& s, const Dims& x, double kv) {
  const BlockContext& c = s.ctx;
  const Dims one = c.dims(x.B, 1);
  for (long i = 0; i < s.w.mtp_drafts; ++i) {
    const std::string p = fmt::format("mtp{}", i);
    Steps prog;
    prog.push_back(norm(c, p + ".enorm", one.T, one.d));
    prog.push_back(norm(c, p + ".hnorm", one.T, one.d));
    linear(c, prog, p + ".eh_proj", one.T, 2 * one.d, one.d, false, false, false);
    s.forward(prog, -1);
    s.forward(transformer_layer(c, static_cast<int>(c.m.layers - 1), one, {false, true, kv}, p), -1);
    s.forward(head_block(c, one, false, false), -1);
  }
}

/// The last stage's end of a micro-batch's step: logits, MTP drafts, generate's bookkeeping.
void decode_tail(StageProgram& s, const Dims& x, double kv) {
  // Verifying drafts needs the logits of every verified position, not only the last.
  Dims rows = x;
  rows.B = x.T;
  s.forward(head_block(s.ctx, rows, false, false), -1);
  if (s.w.mtp_drafts > 0) mtp_drafts(s, x, kv);
  s.bookkeeping(x.B);
}

/// One decode step of every micro-batch with the layers overlapped on two core partitions
/// (pp = 1): embeddings, the overlapped layers, then each micro-batch's tail.
void decode_overlapped(StageProgram& s, const Dims& x, double kv) {
  std::vector<std::vector<OpId>> ready(static_cast<size_t>(s.par().microbatches));
  for (auto& r : ready) {
    s.prepare_inputs(x.B);
    s.forward(embedding_block(s.ctx, x), -1);
    r = {static_cast<OpId>(s.g.last())};
  }
  overlapped_layers(s, x, {false, true, kv}, ready);
  for (size_t j = 0; j < ready.size(); ++j) decode_tail(s, x, kv);
}

/// One decode step of micro-batch `j` at token step `n` (over iterations) with KV length kv.
/// Pipeline parallel: the last stage sends each micro-batch's new token ids (int64) back to
/// the first, which waits for them before its next step.
void decode_micro_batch(StageProgram& s, const Dims& x, long n, int j, double kv, double boundary) {
  const BlockContext& c = s.ctx;
  const PipelineStage& st = c.stage;
  const int m = s.par().microbatches;
  const bool piped = s.par().pp > 1;
  const int k = static_cast<int>(n * m + j), prev = static_cast<int>((n - 1) * m + j);
  if (piped && st.first() && n > 0)
    pipeline_recv(s.g, "pp.recv_tokens", x.B * 8, CommGroup::PipelinePrev, prev);
  if (piped && !st.first())
    pipeline_recv(s.g, "pp.recv_activations", boundary, CommGroup::PipelinePrev, k);
  if (st.first()) s.prepare_inputs(x.B);
  if (st.first()) s.forward(embedding_block(c, x), -1);
  for (int l = st.l0; l < st.l1; ++l) s.forward(transformer_layer(c, l, x, {false, true, kv}), l);
  if (!st.last()) pipeline_send(s.g, "pp.send_activations", boundary, CommGroup::PipelineNext, k);
  if (st.last()) decode_tail(s, x, kv);
  if (piped && st.last()) pipeline_send(s.g, "pp.send_tokens", x.B * 8, CommGroup::PipelineNext, k);
}

}  // namespace

void decode(StageProgram& s, int it) {
  s.g.set_iteration(it);
  s.g.set_pass(Pass::Forward);
  const BlockContext& c = s.ctx;
  // One token per sequence per step; weights were cast at prefill and autocast caches them.
  const int m = s.par().microbatches;
  // With multi-token prediction the step verifies the drafts: 1 + drafts tokens per sequence.
  const Dims x = c.dims(static_cast<double>(s.w.batch) / m, 1 + static_cast<double>(s.w.mtp_drafts));
  const double boundary = boundary_bytes(x.T, x.d, c.rb, c.tp.ways(), c.tp.sp());
  for (long t = 0; t < s.w.decode_tokens; ++t) {
    const double kv = static_cast<double>(s.w.seq_len + t + 1);
    const long n = it * s.w.decode_tokens + t;  // token steps so far, over iterations
    if (!s.w.overlap.empty()) decode_overlapped(s, x, kv);
    else
      for (int j = 0; j < m; ++j) decode_micro_batch(s, x, n, j, kv, boundary);
    // Every token step is the same size: refuse a run too large to simulate after the first.
    if (n == 0) check_op_budget(double(s.g.graph().size()) * double(s.w.decode_tokens) * double(s.w.iterations));
  }
  s.g.join_side();
}

}  // namespace orrery::transformer
