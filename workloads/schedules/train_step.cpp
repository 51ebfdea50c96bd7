// The training step: grad_accum accumulation steps, each a 1F1B pass over the micro-batches
// with pipeline transfers at the stage boundaries and DDP gradient buckets in the backward
// that ends the optimizer step; then the optimizer (and ZeRO-1's weight all-gather).
#include <vector>

#include "workloads/blocks/embedding.h"
#include "workloads/blocks/transformer_layer.h"
#include "workloads/layouts/zero.h"
#include "workloads/schedules/one_f_one_b.h"
#include "workloads/schedules/optimizer.h"
#include "workloads/schedules/stage_program.h"

namespace orrery::transformer {

namespace {

/// This stage's part of the model: embedding (first stage), its layers, head (last stage).
struct StageSteps {
  Steps emb, head;
  std::vector<Steps> layers;
};

StageSteps stage_steps(const BlockContext& c, const Dims& x) {
  StageSteps s;
  if (c.stage.first()) s.emb = embedding_block(c, x);
  for (int l = c.stage.l0; l < c.stage.l1; ++l) s.layers.push_back(transformer_layer(c, l, x, {}));
  if (c.stage.last()) s.head = head_block(c, x, true, true);
  return s;
}

void forward_pass(StageProgram& s, const StageSteps& m) {
  s.forward(m.emb, -1);
  for (int l = s.stage().l0; l < s.stage().l1; ++l)
    s.forward(m.layers[static_cast<size_t>(l - s.stage().l0)], l);
  s.forward(m.head, -1);
}

/// Backward of the stage with DDP gradient buckets issued on the NCCL stream as they fill
/// (`reduce`: this backward ends the optimizer step).
void backward_pass(StageProgram& s, const StageSteps& m, bool reduce) {
  const PipelineStage& st = s.stage();
  if (st.last()) {
    s.backward(m.head, -1);
    s.grads.add(s.g, head_gradients(s.ctx), reduce);
  }
  const std::vector<double> tensors = layer_gradients(s.ctx.m);
  for (int l = st.l1 - 1; l >= st.l0; --l) {
    s.backward(m.layers[static_cast<size_t>(l - st.l0)], l);
    // DDP fills buckets tensor by tensor in backward order.
    for (double t : tensors) s.grads.add(s.g, t, reduce);
  }
  if (st.first()) {
    s.backward(m.emb, -1);
    s.grads.add(s.g, embedding_gradients(s.ctx.m), reduce);
  }
  s.grads.flush(s.g, reduce);
}

/// One accumulation step `a`: every micro-batch forward and backward in 1F1B order.
void accumulation_step(StageProgram& s, const StageSteps& m, int it, long a, double boundary) {
  const PipelineStage& st = s.stage();
  const int mb = s.par().microbatches;
  // Gradients are reduced once, in the last accumulation step (DDP no_sync before it).
  const bool last_accum = a + 1 == s.w.grad_accum;
  const auto tag = [&](int j) { return micro_batch_tag(it, a, j, s.w.grad_accum, mb); };
  const auto forward = [&](int j) {
    s.g.set_pass(Pass::Forward);
    if (!st.first()) pipeline_recv(s.g, "pp.recv_activations", boundary, CommGroup::PipelinePrev, tag(j));
    forward_pass(s, m);
    if (!st.last()) pipeline_send(s.g, "pp.send_activations", boundary, CommGroup::PipelineNext, tag(j));
  };
  const auto backward = [&](int j) {
    s.g.set_pass(Pass::Backward);
    if (!st.last()) pipeline_recv(s.g, "pp.recv_gradients", boundary, CommGroup::PipelineNext, tag(j));
    s.g.add(make_host("autograd.start", HostWork::BackwardStart));
    backward_pass(s, m, last_accum && j == mb - 1);
    if (!st.first()) pipeline_send(s.g, "pp.send_gradients", boundary, CommGroup::PipelinePrev, tag(j));
  };
  one_f_one_b(s.par().pp, st.index, mb, forward, backward);
}

}  // namespace

void train_step(StageProgram& s, int it) {
  s.g.set_iteration(it);
  const BlockContext& c = s.ctx;
  const Dims x = c.dims(static_cast<double>(s.w.batch) / s.par().microbatches,
                        static_cast<double>(s.w.seq_len));
  const StageSteps m = stage_steps(c, x);
  // Activations (and their gradients) cross a stage boundary in the residual dtype.
  const double boundary = boundary_bytes(x.T, x.d, c.rb, c.tp.ways(), c.tp.sp());
  for (long a = 0; a < s.w.grad_accum; ++a) accumulation_step(s, m, it, a, boundary);
  s.g.set_pass(Pass::Optimizer);
  s.g.set_layer(-1);
  s.g.join_side();  // the optimizer needs every reduced gradient
  s.forward(optimizer_steps(c), -1);
  const PipelineStage& st = c.stage;
  gather_updated_weights(s.g, s.par(),
                         c.m.stage_params(st.layers(), st.first(), st.last()) / c.tp.ways() * c.wb);
  // loss.item(): the host waits for the step to finish.
  s.g.sync_last();
  s.g.set_pass(Pass::Forward);
}

}  // namespace orrery::transformer
