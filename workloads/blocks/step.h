// A Step: one forward op of an eager program with the ops autograd runs for it in backward.
// Blocks return Steps; schedules emit their forward ops in order and their backward ops in
// reverse.
#pragma once
#include <vector>

#include "sim/core/op.h"

namespace orrery::transformer {

/// A forward op with the ops autograd runs for it in the backward pass. A step with an
/// unnamed forward op is backward-only (e.g. Megatron's "f" without sequence parallelism).
struct Step {
  Op fwd;
  std::vector<Op> bwd;
};
using Steps = std::vector<Step>;

/// Framework module calls (nn.Module.__call__) the host makes for `op`.
inline Op with_modules(Op op, int modules) {
  op.modules = modules;
  return op;
}

/// A backward op and the autograd nodes the engine runs to produce it (its own node, the view
/// nodes in front of it, AccumulateGrad for the parameters it updates).
inline Op with_nodes(Op op, int nodes) {
  op.nodes = nodes;
  return op;
}

/// Marks an op that streams weights or the KV cache from device memory.
inline Op cold(Op op) {
  op.cold = true;
  return op;
}

}  // namespace orrery::transformer
