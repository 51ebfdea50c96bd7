// A device: engines, memory levels and the host that drives it, read from YAML once and
// validated. Modules and cost models take this spec, never a YAML node.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "hw/compute/matrix_engine.h"
#include "hw/compute/vector_engine.h"
#include "hw/host/host.h"
#include "hw/memory/memory_level.h"

namespace orrery {

struct DeviceSpec {
  std::string name;
  std::string description;
  std::string execution = "kernel_by_kernel";  // a registered device kind (hw/device_kinds.h)
  std::vector<MatrixEngineSpec> matrix;
  std::vector<VectorEngineSpec> vector;
  std::vector<MemoryLevelSpec> memory;  // caches first (fastest first), then the backing level
  HostSpec host;
  double kernel_overhead = 0;   // device time per kernel run back to back: block scheduling, ramp-up, tail
  double launch_latency = 0;    // extra delay when a kernel starts on a device idle waiting for its launch
  double graph_launch = 0;      // device time to start a replayed graph before its first kernel
  double unit_bandwidth = 0;    // bytes/s one compute unit can draw (limits kernels with few blocks)

  [[nodiscard]] const MatrixEngineSpec& matrix_engine() const { return matrix.front(); }
  [[nodiscard]] const VectorEngineSpec& vector_engine() const { return vector.front(); }
  /// The level that holds tensors (the last non-cache level).
  [[nodiscard]] const MemoryLevelSpec& backing_memory() const;
};

[[nodiscard]] const ParamTable& device_params();
/// Reads a device (preset already resolved) at YAML path `path`.
[[nodiscard]] DeviceSpec read_device(const YAML::Node& node, const std::string& path);

}  // namespace orrery
