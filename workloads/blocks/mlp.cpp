#include "workloads/blocks/mlp.h"

#include "workloads/blocks/ops.h"

namespace orrery::transformer {

void dense_mlp_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call) {
  const double T = x.T, d = x.d, f = c.tp.shard(x.f);
  c.tp.enter(prog, p + ".mlp", T, d, c.ab);
  linear(c, prog, p + ".mlp.fc1", T, d, f, true, true, call.first_forward);
  activation(c, prog, p + ".mlp.act", T * f);
  linear(c, prog, p + ".mlp.fc2", T, f, d, true, false, call.first_forward);
  c.tp.leave(prog, p + ".mlp", T, d, c.ab);
}

std::vector<double> dense_mlp_gradients(const ModelSpec& m) {
  const double d = double(m.hidden), f = double(m.ffn);
  return {f * d + d, d * f + f};
}

}  // namespace orrery::transformer
