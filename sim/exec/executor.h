// Runs an operator graph on a simulated device: builds the SystemC modules, runs until the
// graph drains, and returns what happened to every op.
#pragma once
#include <vector>

#include "hw/device.h"
#include "hw/host/host_module.h"
#include "sim/exec/op.h"
#include "sim/exec/record.h"

namespace orrery {

struct SimResult {
  std::vector<OpRecord> records;  // indexed by OpId
  ResourceNames resources;
  long events = 0;       // SystemC process activations
  double makespan = 0;   // simulated seconds until the graph drained
  double wall_s = 0;     // host wall-clock seconds of the simulation
};

/// Simulates `graph` on one device. Must be called at most once per process (one SystemC
/// kernel per process); sweeps run one process per point.
[[nodiscard]] SimResult simulate(const DeviceSpec& device, const OpGraph& graph,
                                 Framework framework);

}  // namespace orrery
