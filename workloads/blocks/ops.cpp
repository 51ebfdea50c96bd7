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
  // W8A8 / FP8 serving: the bf16 activation is quantised per token before the GEMM (absmax,
  // scale, cast: reads ab bytes, writes 1 byte per element, the per-token scale is negligible);
  // the GEMM's epilogue dequantises its output (no kernel). Each linear quantises its own input
  // (a fused QKV or gate+up shares one: Orrery counts one per linear, a slight overcount).
  if (mm == Dtype::int8 || mm == Dtype::fp8)
    p.push_back({make_vector(name + ".quant", "quantize", T * in, c.ab + 1, 3, c.n.act), {}});
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
  // One block per row of d elements (RowReduce::norm).
  Step s{with_modules(row_reduce(make_vector(name, "layernorm", T * d, 3 * c.rb, 8, c.n.residual),
                                 RowReduce::norm, T, d), 1), {}};
  // Backward: input gradient (reads dy, x; writes dx) and gamma/beta gradients (2 kernels).
  s.bwd.push_back(with_nodes(
      make_vector(name + ".bwd", "layernorm_bwd", T * d, 5 * c.rb, 12, c.n.residual, 2), 3));
  return s;
}

Step rmsnorm(const BlockContext& c, const std::string& name, double T, double d) {
  // HF LlamaRMSNorm.forward, per element of x (residual dtype, rb bytes); statistics in fp32:
  //   h = x.to(fp32)                        cast: rb + 4 B   (a kernel only when rb != 4)
  //   v = h.pow(2).mean(-1, keepdim=True)   pow: 4 + 4 B, mean: 4 B read (+ 4 B per row)
  //   h = h * torch.rsqrt(v + eps)          add, rsqrt: per row; mul: 4 + 4 B (+ 4 B per row)
  //   out = weight * h.to(input_dtype)      cast: 4 + rb B (when rb != 4); mul: rb + rb B
  // = 28 B per element in fp32 (24 B per row for mean/add/rsqrt/mul), 6 kernels; with a bf16
  // residual (bf16 weights) 36 B and 8 kernels. FLOPs: pow, mean, mul, mul = 4 per element.
  const double rb = c.rb, fp32 = 4;
  const bool casts = rb != fp32;
  const double fwd_bytes = (casts ? 2 * (rb + fp32) : 0) + 2 * fp32 + fp32 + 2 * fp32 + 2 * rb + 24 / d;
  const int fwd_kernels = 6 + (casts ? 2 : 0);
  Step s{with_modules(make_vector(name, "rmsnorm", T * d, fwd_bytes, 4, c.n.residual, fwd_kernels), 1), {}};
  // Autograd, per element (gradient flowing back from `out`):
  //   MulBackward (weight * h): dh = g * w; dw = (g * h).sum over tokens: 3 kernels, 6 rb B
  //   ToCopyBackward (when rb != 4): rb + 4 B
  //   MulBackward (h * r): g * r and (g * h).sum(-1): 3 kernels, 24 B (fp32)
  //   RsqrtBackward, AddBackward: per row (2 kernels); MeanBackward: expand / d, writes 4 B
  //   PowBackward: g * 2 * h.pow(1): 3 kernels, 28 B; the two gradients of h summed: 12 B
  //   ToCopyBackward to the input dtype (when rb != 4): 4 + rb B
  // = 13 kernels and 6 rb + 68 B per element (+ 2 casts, 2 (rb + 4) B, with a bf16 residual);
  // nodes: two MulBackward, Rsqrt, Add, Mean, Pow, AccumulateGrad of the weight (+ ToCopy x2).
  const double bwd_bytes = 6 * rb + 68 + (casts ? 2 * (rb + fp32) : 0);
  const int bwd_kernels = 13 + (casts ? 2 : 0);
  s.bwd.push_back(with_nodes(make_vector(name + ".bwd", "rmsnorm_bwd", T * d, bwd_bytes, 10,
                                         c.n.residual, bwd_kernels),
                             7 + (casts ? 2 : 0)));
  return s;
}

Step norm(const BlockContext& c, const std::string& name, double T, double d) {
  return c.m.norm == Norm::rmsnorm ? rmsnorm(c, name, T, d) : layernorm(c, name, T, d);
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
