#include "workloads/blocks/numerics.h"

namespace orrery {

Numerics numerics_of(const WorkloadSpec& w) {
  Numerics n;
  n.matmul = w.precision;
  n.weights = w.weights;
  const bool narrow = w.precision == Dtype::fp8 || w.precision == Dtype::int8;
  n.act = narrow ? Dtype::bf16 : (w.precision == Dtype::tf32 ? Dtype::fp32 : w.precision);
  // torch.autocast: weights stay in their dtype and are cast per use; norms, embeddings and the
  // residual stream stay in the weights' dtype.
  // Quantised serving (W8A8, FP8) keeps the weights in the GEMM dtype: nothing to cast.
  const bool quantised_weights = narrow && w.weights == w.precision;
  n.autocast = !quantised_weights && (dtype_bytes(w.weights) != dtype_bytes(n.act) ||
                                      (w.weights != w.precision && w.precision != Dtype::tf32 && !narrow));
  n.residual = n.autocast ? w.weights : n.act;
  // W8A8 / FP8 serving quantises the linear layers; attention runs in bf16 (CloudMatrix-Infer:
  // "INT8 for the large matmuls; norms and gating in BF16/FP32"; vLLM's FP8 checkpoints).
  n.attention = narrow ? Dtype::bf16 : n.matmul;
  return n;
}

}  // namespace orrery
