#include "workloads/blocks/mlp.h"

#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// silu(gate) * up over `elems` elements (act dtype, ab bytes each), as HF LlamaMLP runs it:
///   act_fn(gate): F.silu, one kernel: reads gate, writes s (2 ab); ~5 FLOPs (neg, exp, add,
///     div, mul) per element; backward silu_backward reads ds and gate, writes dgate (3 ab).
///   s * up: one kernel: reads s and up, writes the product (3 ab), 1 FLOP; backward
///     MulBackward: ds = g * up and dup = g * s, two kernels (6 ab).
void swiglu_gate(const BlockContext& c, Steps& p, const std::string& name, double elems) {
  const double ab = c.ab;
  p.push_back({with_modules(make_vector(name + ".act", "silu", elems, 2 * ab, 5, c.n.act), 1),
               {with_nodes(make_vector(name + ".act.bwd", "silu_bwd", elems, 3 * ab, 8, c.n.act), 1)}});
  p.push_back({make_vector(name + ".mul", "mul", elems, 3 * ab, 1, c.n.act),
               {with_nodes(make_vector(name + ".mul.bwd", "mul", elems, 6 * ab, 2, c.n.act, 2), 1)}});
}

}  // namespace

void dense_mlp_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call) {
  const double T = x.T, d = x.d, f = c.tp.shard(x.f);
  c.tp.enter(prog, p + ".mlp", T, d, c.ab);
  if (c.m.mlp == Mlp::swiglu) {
    // HF LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)); gate and up column-parallel
    // (f/tp each, each casting its input under autocast), down row-parallel.
    const bool b = c.m.bias;
    linear(c, prog, p + ".mlp.gate_proj", T, d, f, b, true, call.first_forward);
    linear(c, prog, p + ".mlp.up_proj", T, d, f, b, true, call.first_forward);
    swiglu_gate(c, prog, p + ".mlp", T * f);
    linear(c, prog, p + ".mlp.down_proj", T, f, d, b, false, call.first_forward);
  } else {
    // GPT-2 / NeoX always have biases (bias: true); a custom bias-free GELU MLP has none.
    linear(c, prog, p + ".mlp.fc1", T, d, f, c.m.bias, true, call.first_forward);
    activation(c, prog, p + ".mlp.act", T * f);
    linear(c, prog, p + ".mlp.fc2", T, f, d, c.m.bias, false, call.first_forward);
  }
  c.tp.leave(prog, p + ".mlp", T, d, c.ab);
}

std::vector<double> dense_mlp_gradients(const ModelSpec& m) {
  const double d = double(m.hidden), f = double(m.ffn);
  if (m.mlp == Mlp::swiglu) {
    // Backward order (reverse of registration gate, up, down): down, up, gate.
    const double b = m.bias ? 1 : 0;
    return {f * d + b * d, d * f + b * f, d * f + b * f};
  }
  const double b = m.bias ? 1 : 0;
  return {f * d + b * d, d * f + b * f};
}

}  // namespace orrery::transformer
