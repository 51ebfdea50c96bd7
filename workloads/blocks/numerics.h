// Numeric formats of a transformer workload's tensors (autocast and its casts).
#pragma once
#include "sim/core/dtype.h"
#include "workloads/workload.h"

namespace orrery {

/// Numeric formats a workload's tensors use.
struct Numerics {
  Dtype matmul = Dtype::bf16;    // GEMM compute dtype
  Dtype attention = Dtype::bf16; // fused attention: the GEMM dtype, bf16 when GEMMs are int8/fp8
  Dtype act = Dtype::bf16;       // activations produced by matmuls
  Dtype residual = Dtype::fp32;  // residual stream, norms, embeddings
  Dtype weights = Dtype::fp32;   // stored weights
  bool autocast = true;          // weights are cast to the matmul dtype before use
};
[[nodiscard]] Numerics numerics_of(const WorkloadSpec& w);

}  // namespace orrery
