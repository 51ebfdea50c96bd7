#include "hw/host/host.h"

namespace orrery {

const ParamTable& host_params() {
  static const ParamTable t{
      "host",
      "The CPU thread that launches kernels. Fitted on the launch-bound floor of small "
      "micro-benchmarks.",
      {
          {"type", ParamType::Enum, Dim::Dimensionless, "host", "component type", {"host"}},
          {"launch_eager", ParamType::Quantity, Dim::Time, "", "host time per kernel launched by an eager framework, back to back (the launch throughput)"},
          {"submit_latency", ParamType::Quantity, Dim::Time, "0 s", "eager: time from the end of a launch call to its kernel reaching the device; pipelined, so a stream of launches pays it once and again after each synchronisation", {}, false, 0, true},
          {"launch_graph", ParamType::Quantity, Dim::Time, "", "host time per kernel replayed from a captured graph"},
          {"launch_library", ParamType::Quantity, Dim::Time, "0 s", "host time of an extra kernel a library launches internally (e.g. a split-K reduction), without framework dispatch", {}, false, 0, true},
          {"module_call", ParamType::Quantity, Dim::Time, "0 s", "host time of one framework module call (nn.Module.__call__ in eager mode)", {}, false, 0, true},
          {"gemm_dispatch", ParamType::Quantity, Dim::Time, "0 s", "host time of a BLAS GEMM call (algorithm heuristics, descriptors) beyond its kernel launches", {}, false, 0, true},
          {"attention_dispatch", ParamType::Quantity, Dim::Time, "0 s", "host time of a fused-attention call (backend selection, checks) beyond its kernel launches", {}, false, 0, true},
          {"autograd_node", ParamType::Quantity, Dim::Time, "0 s", "host time the autograd engine spends per backward node (views and AccumulateGrad included), beyond kernel launches", {}, false, 0, true},
          {"backward_start", ParamType::Quantity, Dim::Time, "0 s", "host time to start the autograd engine for one backward pass", {}, false, 0, true},
          {"queue_depth", ParamType::Integer, Dim::Dimensionless, "1024", "device ops the host may have launched but not finished before its next launch blocks (1: launches are synchronous)"},
          {"sync", ParamType::Quantity, Dim::Time, "10 us", "host time to return from a device synchronisation", {}, false, 0, true},
      }};
  return t;
}

HostSpec read_host(const Section& s) {
  HostSpec h;
  h.launch_eager = s.quantity("launch_eager");
  h.launch_graph = s.quantity("launch_graph");
  h.submit_latency = s.quantity("submit_latency");
  h.module_call = s.quantity("module_call");
  h.launch_library = s.quantity("launch_library");
  h.attention_dispatch = s.quantity("attention_dispatch");
  h.gemm_dispatch = s.quantity("gemm_dispatch");
  h.backward_start = s.quantity("backward_start");
  h.autograd_node = s.quantity("autograd_node");
  h.sync = s.quantity("sync");
  h.queue_depth = static_cast<int>(s.integer("queue_depth"));
  return h;
}

}  // namespace orrery
