// ZeRO-1 (sharded optimizer state over the data-parallel replicas): gradients are
// reduce-scattered instead of all-reduced, each replica updates its 1/dp shard, and the
// updated weights are all-gathered after the optimizer.
#pragma once
#include "workloads/builders/graph_builder.h"
#include "workloads/parallel.h"

namespace orrery::transformer {

[[nodiscard]] inline bool zero1(const ParallelSpec& par) { return par.zero == 1; }
/// The collective of a DDP gradient bucket: reduce_scatter with ZeRO-1, else all_reduce.
[[nodiscard]] inline CommKind gradient_collective(const ParallelSpec& par) {
  return zero1(par) ? CommKind::ReduceScatter : CommKind::AllReduce;
}
/// Replicas the optimizer state is sharded over (1 without ZeRO).
[[nodiscard]] inline int optimizer_shards(const ParallelSpec& par) { return zero1(par) ? par.dp : 1; }
/// After the optimizer: all-gather the updated weight shards (`weight_bytes`: this tensor-
/// parallel rank's full copy of the stage's weights).
void gather_updated_weights(GraphBuilder& g, const ParallelSpec& par, double weight_bytes);

}  // namespace orrery::transformer
