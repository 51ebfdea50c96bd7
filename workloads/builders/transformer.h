// Operator graphs of transformer workloads (GPT-2 and GPT-NeoX/GenSLM blocks) for the phases
// train, prefill, decode and block, as an eager framework (PyTorch + Hugging Face) runs them.
#pragma once
#include <utility>

#include "sim/core/op.h"
#include "workloads/workload.h"

namespace orrery {

/// Builds the op graph of a workload (every phase, including microbench) as pipeline stage
/// `stage` of w.parallel runs it (stage 0 of a one-stage pipeline: the whole model).
[[nodiscard]] OpGraph build_graph(const WorkloadSpec& w, int stage = 0);
/// Layers [first, second) of pipeline stage `stage`: even split, earlier stages take the rest.
[[nodiscard]] std::pair<int, int> stage_layers(long layers, int pp, int stage);

/// Numeric formats a workload's tensors use.
struct Numerics {
  Dtype matmul = Dtype::bf16;    // GEMM / attention compute dtype
  Dtype act = Dtype::bf16;       // activations produced by matmuls
  Dtype residual = Dtype::fp32;  // residual stream, norms, embeddings
  Dtype weights = Dtype::fp32;   // stored weights
  bool autocast = true;          // weights are cast to the matmul dtype before use
};
[[nodiscard]] Numerics numerics_of(const WorkloadSpec& w);

}  // namespace orrery
