// A level of the memory hierarchy: off-chip HBM/DRAM that holds tensors, or an on-chip cache.
#pragma once
#include <string>

#include "sim/config/params.h"

namespace orrery {

enum class MemoryKind { hbm, dram, cache };

struct MemoryLevelSpec {
  std::string name;
  MemoryKind kind = MemoryKind::hbm;
  double capacity = 0;    // bytes
  double bandwidth = 0;   // bytes/s, peak
  double efficiency = 1;  // achievable fraction of peak when streaming
  double latency = 0;     // seconds, first byte

  /// Sustained bandwidth an op sees when it has the level to itself.
  [[nodiscard]] double sustained() const { return bandwidth * efficiency; }
  [[nodiscard]] bool is_cache() const { return kind == MemoryKind::cache; }
};

[[nodiscard]] const ParamTable& memory_level_params();
[[nodiscard]] MemoryLevelSpec read_memory_level(const Section& s, const std::string& name);

}  // namespace orrery
