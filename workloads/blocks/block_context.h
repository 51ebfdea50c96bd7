// What every block needs to emit its Steps: the workload and model, the numeric formats (bytes
// per element of each class of tensor), the tensor-parallel layout and this pipeline stage.
#pragma once
#include <map>
#include <memory>
#include <utility>
#include "workloads/blocks/numerics.h"
#include "workloads/blocks/step.h"
#include "workloads/layouts/pipeline.h"
#include "workloads/layouts/tensor_parallel.h"
#include "workloads/workload.h"

namespace orrery::transformer {

/// Sizes of one forward pass: B sequences of S tokens (T = B*S), hidden d, ffn f, h heads of
/// hd, vocabulary V; kvh key/value heads (grouped-query attention), q width qw = h*hd and
/// K or V width kvw = kvh*hd (both exactly d for GPT-2 / NeoX, whose head_dim is d/h).
struct Dims {
  double B, S, T, d, f, h, hd, V;
  double kvh, qw, kvw;
};

struct BlockContext {
  BlockContext(const WorkloadSpec& w, int stage);

  const WorkloadSpec& w;
  const ModelSpec& m;
  Numerics n;
  TensorParallel tp;
  PipelineStage stage;
  double rb = 4, ab = 2, wb = 4;  // bytes per element: residual, activation, weight

  [[nodiscard]] Dims dims(double batch, double tokens_per_seq) const;
  [[nodiscard]] bool training() const { return w.phase == Phase::train; }
  /// Train, prefill and decode run a Hugging Face *ForCausalLM model; block runs one bare block.
  [[nodiscard]] bool hf_model() const { return w.phase != Phase::block; }
  /// The model's dropout is applied (training with dropout on).
  [[nodiscard]] bool dropout() const { return training() && w.dropout && m.dropout > 0; }

  /// Routing results of MoE layers, by (layer, tokens): every decode step and micro-batch of a
  /// layer routes alike (seeded by layer), so placement runs once per layer, not per step.
  mutable std::map<std::pair<long, double>, std::shared_ptr<const void>> moe_cache;
};

}  // namespace orrery::transformer
