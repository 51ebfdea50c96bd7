// The block phase: one bare transformer layer, forward and (optionally) backward of
// y.float().sum(), with no model or framework wrapper around it.
#include "workloads/blocks/transformer_layer.h"
#include "workloads/schedules/stage_program.h"

namespace orrery::transformer {

void block_step(StageProgram& s, int it) {
  s.g.set_iteration(it);
  const BlockContext& c = s.ctx;
  const Dims x = c.dims(static_cast<double>(s.w.batch), static_cast<double>(s.w.seq_len));
  s.g.set_pass(Pass::Forward);
  const Steps blk = transformer_layer(c, 0, x, {});
  s.forward(blk, 0);
  if (s.w.backward) {
    // y.float().sum(): one reduction; its backward is an expand (a node, no kernel).
    s.g.add(make_vector("sum", "reduce", x.T * x.d, c.rb, 1, c.n.residual));
    s.g.set_pass(Pass::Backward);
    s.g.add(make_host("autograd.start", HostWork::BackwardStart));
    s.g.add(make_host("sum.bwd", HostWork::AutogradNode));
    s.backward(blk, 0);
    s.g.set_pass(Pass::Forward);
  }
  s.g.sync_last();
}

}  // namespace orrery::transformer
