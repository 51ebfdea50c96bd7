// Pipeline parallelism: which layers a stage holds and the point-to-point transfers between
// neighbouring stages (the 1F1B order itself is in schedules/one_f_one_b.h).
#pragma once
#include <string>
#include <utility>

#include "workloads/builders/graph_builder.h"
#include "workloads/parallel.h"

namespace orrery {

/// Layers [first, second) of pipeline stage `stage`: even split, earlier stages take the rest.
[[nodiscard]] std::pair<int, int> stage_layers(long layers, int pp, int stage);

namespace transformer {

/// Device stream of pipeline sends (they overlap the stage's compute).
inline constexpr int kPipelineStream = 2;

/// Where one pipeline stage sits: its index among `count` and its layers [l0, l1).
struct PipelineStage {
  PipelineStage(long layers, int count, int index);
  int index = 0, count = 1;
  int l0 = 0, l1 = 0;
  [[nodiscard]] bool first() const { return index == 0; }
  [[nodiscard]] bool last() const { return index == count - 1; }
  [[nodiscard]] int layers() const { return l1 - l0; }
};

/// Bytes of the activations (or their gradients) crossing a stage boundary: T x d in the
/// residual dtype, T/tp tokens per rank with sequence parallelism.
[[nodiscard]] double boundary_bytes(double T, double d, double residual_bytes, double tp, bool sp);

/// Tag pairing a send with its receive: the micro-batch's index over iterations (`it`),
/// accumulation steps (`a` of grad_accum) and micro-batches (`j` of microbatches).
[[nodiscard]] inline int micro_batch_tag(int it, long a, int j, long grad_accum, int microbatches) {
  return static_cast<int>((it * grad_accum + a) * microbatches + j);
}

/// A blocking receive on the main chain (the stage waits for its peer).
void pipeline_recv(GraphBuilder& g, const std::string& name, double bytes, CommGroup peer, int tag);
/// A send on the pipeline stream: the stage goes on while it travels.
void pipeline_send(GraphBuilder& g, const std::string& name, double bytes, CommGroup peer, int tag);

}  // namespace transformer
}  // namespace orrery
