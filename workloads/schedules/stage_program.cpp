#include "workloads/schedules/stage_program.h"

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

}  // namespace orrery::transformer
