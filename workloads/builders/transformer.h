// Operator graphs of transformer workloads (GPT-2, GPT-NeoX/GenSLM and dense Llama-family blocks) for the phases
// train, prefill, decode and block, as an eager framework (PyTorch + Hugging Face) runs them.
// The model's blocks are in workloads/blocks/, the parallel layouts (Megatron TP/SP, DDP
// buckets, ZeRO-1, pipeline stages) in workloads/layouts/, the step schedules in
// workloads/schedules/.
#pragma once
#include <utility>

#include "sim/core/op.h"
#include "workloads/blocks/numerics.h"
#include "workloads/layouts/pipeline.h"
#include "workloads/workload.h"

namespace orrery {

/// Builds the op graph of a workload (every phase, including microbench) as pipeline stage
/// `stage` of w.parallel runs it (stage 0 of a one-stage pipeline: the whole model).
[[nodiscard]] OpGraph build_graph(const WorkloadSpec& w, int stage = 0);

}  // namespace orrery
