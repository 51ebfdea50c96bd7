#include "hw/host/host.h"

namespace orrery {

const ParamTable& host_params() {
  static const ParamTable t{
      "host",
      "The CPU thread that launches kernels. Fitted on the launch-bound floor of small "
      "micro-benchmarks.",
      {
          {"type", ParamType::Enum, Dim::Dimensionless, "host", "component type", {"host"}},
          {"launch_eager", ParamType::Quantity, Dim::Time, "", "host time per kernel launched by an eager framework"},
          {"launch_graph", ParamType::Quantity, Dim::Time, "", "host time per kernel replayed from a captured graph"},
          {"module_call", ParamType::Quantity, Dim::Time, "0 s", "host time of one framework module call (nn.Module.__call__ in eager mode)", {}, false, 0, true},
          {"backward_start", ParamType::Quantity, Dim::Time, "0 s", "host time to start the autograd engine for one backward pass", {}, false, 0, true},
          {"sync", ParamType::Quantity, Dim::Time, "10 us", "host time to return from a device synchronisation", {}, false, 0, true},
      }};
  return t;
}

HostSpec read_host(const Section& s) {
  HostSpec h;
  h.launch_eager = s.quantity("launch_eager");
  h.launch_graph = s.quantity("launch_graph");
  h.module_call = s.quantity("module_call");
  h.backward_start = s.quantity("backward_start");
  h.sync = s.quantity("sync");
  return h;
}

}  // namespace orrery
