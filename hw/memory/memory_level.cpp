#include "hw/memory/memory_level.h"

namespace orrery {

const ParamTable& memory_level_params() {
  static const ParamTable t{
      "memory",
      "A memory level: 'hbm' or 'dram' hold the device's tensors; 'cache' is on-chip and serves "
      "an operator whose whole footprint fits in it.",
      {
          {"type", ParamType::Enum, Dim::Dimensionless, "", "level kind", {"hbm", "dram", "cache"}},
          {"capacity", ParamType::Quantity, Dim::Bytes, "", "capacity"},
          {"bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "peak bandwidth (read + write combined)"},
          {"efficiency", ParamType::Real, Dim::Dimensionless, "0.9", "achievable fraction of peak when streaming (fitted on streaming micro-benchmarks)"},
          {"latency", ParamType::Quantity, Dim::Time, "500 ns", "latency of a first access; every kernel served by this level waits it once", {}, false, 0, true},
      }};
  return t;
}

MemoryLevelSpec read_memory_level(const Section& s, const std::string& name) {
  MemoryLevelSpec m;
  m.name = name;
  const std::string type = s.string("type");
  m.kind = type == "hbm" ? MemoryKind::hbm : type == "dram" ? MemoryKind::dram : MemoryKind::cache;
  m.capacity = s.quantity("capacity");
  m.bandwidth = s.quantity("bandwidth");
  m.efficiency = s.real("efficiency");
  if (m.efficiency > 1) s.fail("efficiency", "an efficiency cannot exceed 1");
  m.latency = s.quantity("latency");
  return m;
}

}  // namespace orrery
