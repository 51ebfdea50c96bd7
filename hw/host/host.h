// The host that launches operators: a CPU thread running the framework (PyTorch eager,
// or a captured graph). It is a resource: a device waits for kernels it has not launched yet.
#pragma once
#include "sim/config/params.h"

namespace orrery {

struct HostSpec {
  double launch_eager = 0;     // host time per kernel an eager framework launches back to back (throughput)
  double submit_latency = 0;   // eager: from the end of a launch call to its kernel reaching the device (pipelined)
  double launch_graph = 0;     // same, replaying a captured graph (CUDA Graphs)
  double launch_library = 0;   // host time of a kernel a library launches internally (no framework dispatch)
  double attention_dispatch = 0;  // host time of a fused-attention call beyond its launches
  double gemm_dispatch = 0;       // host time of a BLAS GEMM call (heuristics, descriptors) beyond its launches
  double module_call = 0;      // host time of one framework module call (nn.Module.__call__)
  double autograd_node = 0;    // host time the autograd engine spends per node it runs
  double backward_start = 0;   // host time to start the autograd engine for a backward pass
  double sync = 0;             // host time to notice a finished device sync (e.g. .item())
  int queue_depth = 1024;      // kernels launched but unfinished before a launch blocks the host
};

[[nodiscard]] const ParamTable& host_params();
[[nodiscard]] HostSpec read_host(const Section& s);

}  // namespace orrery
