// build_graph: dispatches a workload's phase to its schedule (workloads/schedules/), which
// emits the Steps of the model's blocks (workloads/blocks/) under the parallel layouts
// (workloads/layouts/) of one pipeline stage.
#include "workloads/builders/transformer.h"

#include "workloads/builders/graph_builder.h"
#include "workloads/builders/microbench.h"
#include "workloads/schedules/stage_program.h"

namespace orrery {

OpGraph build_graph(const WorkloadSpec& w, int stage) {
  if (w.phase == Phase::microbench) return build_microbench(w);
  GraphBuilder g;
  transformer::StageProgram prog(w, g, stage);
  for (int it = 0; it < w.iterations; ++it) {
    switch (w.phase) {
      case Phase::train: transformer::train_step(prog, it); break;
      case Phase::block: transformer::block_step(prog, it); break;
      case Phase::prefill: transformer::prefill(prog, it); break;
      case Phase::decode: transformer::decode(prog, it); break;
      case Phase::microbench:
      case Phase::collective: break;
    }
    // Every iteration is the same size: refuse a run too large to simulate after the first.
    if (it == 0) check_op_budget(double(g.graph().size()) * double(w.iterations));
  }
  return g.take();
}

}  // namespace orrery
