// The optimizer update of a stage's parameters (PyTorch fused / multi-tensor kernels).
#pragma once
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// The optimizer's Steps over this rank's parameters: the stage's, split over tensor-parallel
/// ranks and, with ZeRO-1, over the data-parallel replicas.
[[nodiscard]] Steps optimizer_steps(const BlockContext& c);

}  // namespace orrery::transformer
