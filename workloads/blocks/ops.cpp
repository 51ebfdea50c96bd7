#include "workloads/blocks/ops.h"

#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// torch.autocast's cast of `elems` elements of dtype `from_bytes` to the act dtype, and back
/// for its gradient.
Step autocast_cast(const BlockContext& c, const std::string& name, double elems,
                   double from_bytes, int grad_nodes, bool weights) {
  Op fwd = make_vector(name, "cast", elems, from_bytes + c.ab, 1, c.n.act);
  if (weights) fwd = cold(fwd);
  return {fwd, {with_nodes(make_vector(name + "_grad", "cast", elems, c.ab + from_bytes, 1, c.n.act),
                           grad_nodes)}};
}

}  // namespace

void linear(const BlockContext& c, Steps& p, const std::string& name, double T, double in,
            double out, bool bias, bool cast_input, bool cast_weight) {
  const Dtype mm = c.n.matmul;
  if (c.n.autocast && cast_input) p.push_back(autocast_cast(c, name + ".cast_in", T * in, c.rb, 1, false));
  if (c.n.autocast && cast_weight) {
    p.push_back(autocast_cast(c, name + ".cast_w", in * out, c.wb, 2, true));
    if (bias) p.push_back(autocast_cast(c, name + ".cast_b", out, c.wb, 2, true));
  }
  Step s{with_modules(cold(make_gemm(name, T, out, in, mm)), 1), {}};
  // AddmmBackward with the input/output view nodes around it; without autocast the weight
  // and bias AccumulateGrad nodes run here too.
  const int accumulate = c.n.autocast ? 0 : 1;
  s.bwd.push_back(with_nodes(cold(make_gemm(name + ".dX", T, in, out, mm)), 3));
  // dW = dY^T X: A is the transpose of the stored dY (row stride = out).
  s.bwd.push_back(with_nodes(make_gemm(name + ".dW", out, in, T, mm, 1, true), accumulate));
  if (bias)
    s.bwd.push_back(with_nodes(make_vector(name + ".db", "reduce", T * out, c.ab, 1, c.n.act), accumulate));
  p.push_back(std::move(s));
}

Step layernorm(const BlockContext& c, const std::string& name, double T, double d) {
  // Forward reads the row twice (statistics, then normalise) and writes once.
  Step s{with_modules(make_vector(name, "layernorm", T * d, 3 * c.rb, 8, c.n.residual), 1), {}};
  // Backward: input gradient (reads dy, x; writes dx) and gamma/beta gradients (2 kernels).
  s.bwd.push_back(with_nodes(
      make_vector(name + ".bwd", "layernorm_bwd", T * d, 5 * c.rb, 12, c.n.residual, 2), 3));
  return s;
}

void activation(const BlockContext& c, Steps& p, const std::string& name, double elems) {
  const double ab = c.ab;
  if (c.m.activation == Activation::gelu_new) {
    // HF NewGELUActivation: 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))) as 8 eager kernels:
    // 10 element reads and 8 writes; autograd runs ~13 kernels for its backward.
    p.push_back({with_modules(make_vector(name, "gelu", elems, 18 * ab, 12, c.n.act, 8), 1),
                 {with_nodes(make_vector(name + ".bwd", "gelu_bwd", elems, 39 * ab, 20, c.n.act, 13), 8)}});
  } else {
    p.push_back({with_modules(make_vector(name, "gelu", elems, 2 * ab, 12, c.n.act), 1),
                 {with_nodes(make_vector(name + ".bwd", "gelu_bwd", elems, 3 * ab, 20, c.n.act), 1)}});
  }
}

Step residual_add(const BlockContext& c, const std::string& name, double T, double d, int kernels) {
  const double rb = c.rb, ab = c.ab;
  // residual (fp32 under autocast) + branch output (act dtype) -> residual dtype.
  Step s{make_vector(name, "add", T * d * kernels, 2 * rb + ab, 1, c.n.residual, kernels), {}};
  // Backward: the branch's gradient is cast to the act dtype; the residual's gradient is
  // accumulated with the one from the norm that also read it.
  const int casts = rb != ab ? 1 : 0;
  s.bwd.push_back(with_nodes(make_vector(name + ".grad", "add", T * d,
                                         casts * (rb + ab) + kernels * 3 * rb, 1,
                                         c.n.residual, casts + kernels),
                             casts + kernels));
  return s;
}

Step dropout(const BlockContext& c, const std::string& name, double elems) {
  // Reads x, writes y and a one-byte mask; backward multiplies by the mask.
  return {with_modules(make_vector(name, "dropout", elems, 2 * c.ab + 1, 3, c.n.act), 1),
          {with_nodes(make_vector(name + ".bwd", "dropout_bwd", elems, 2 * c.ab + 1, 2, c.n.act), 1)}};
}

Step copy(const BlockContext& c, const std::string& name, double elems, double bytes_per_elem) {
  // transpose + contiguous + view: three autograd nodes, one copy kernel.
  return {make_vector(name, "copy", elems, bytes_per_elem, 0, c.n.act),
          {with_nodes(make_vector(name + ".bwd", "copy", elems, bytes_per_elem, 0, c.n.act), 3)}};
}

}  // namespace orrery::transformer
