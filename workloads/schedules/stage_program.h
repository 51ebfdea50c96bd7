// A pipeline stage's program: emits the Steps of blocks into the op graph in the order a
// schedule (train step, prefill, decode, block) runs them.
#pragma once
#include "workloads/blocks/attention.h"
#include "workloads/blocks/block_context.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/layouts/data_parallel.h"

namespace orrery::transformer {

struct StageProgram {
  StageProgram(const WorkloadSpec& w_, GraphBuilder& g_, int stage)
      : w(w_), g(g_), ctx(w_, stage), grads(w_.parallel, ctx.tp.ways(), ctx.wb) {}

  const WorkloadSpec& w;
  GraphBuilder& g;
  BlockContext ctx;
  GradientBuckets grads;

  [[nodiscard]] const ParallelSpec& par() const { return w.parallel; }
  [[nodiscard]] const PipelineStage& stage() const { return ctx.stage; }
  /// The forward ops of `p` in order (backward-only steps have none), as layer `layer`.
  void forward(const Steps& p, int layer);
  /// The backward ops of `p`, last step first.
  void backward(const Steps& p, int layer);
  /// HF generate's per-token bookkeeping and host sync.
  void bookkeeping(double batch);
  /// HF generate's input preparation before a decode step's forward.
  void prepare_inputs(double batch);
};

/// Layers of every micro-batch overlapped on the workload's two core partitions (w.overlap):
/// per layer, micro-batch j's attention half runs on the attention stream and then its
/// feed-forward half on the feed-forward stream, while micro-batch j+1's attention runs (with
/// overlap_shared_cores both streams take turns on the one partition).
/// `ready[j]`: the ops micro-batch j's first layer waits for; on return, its last op. Leaves
/// the builder on the main chain, waiting for every micro-batch.
void overlapped_layers(StageProgram& s, const Dims& x, const LayerCall& call,
                       std::vector<std::vector<OpId>>& ready);
/// One optimizer step: grad_accum x (1F1B forward-backward of every micro-batch), optimizer.
void train_step(StageProgram& s, int it);
/// One forward and backward of a bare block (no model around it).
void block_step(StageProgram& s, int it);
/// Forward of the prompt, micro-batch by micro-batch, and sampling of the first token.
void prefill(StageProgram& s, int it);
/// decode_tokens generation steps of one token per sequence against the KV cache.
void decode(StageProgram& s, int it);

}  // namespace orrery::transformer
