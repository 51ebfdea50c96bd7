// Runs one collective on a network plane: its stages (or rounds) of flows on the SystemC
// network model, and the report (time, algorithm and bus bandwidth as nccl-tests defines them, link utilisation).
#pragma once
#include <nlohmann/json.hpp>

#include "sim/run.h"

namespace orrery {

struct CollectiveResult {
  double time = 0;                         // seconds until the last flow arrived
  std::string expansion;                   // staged | rounds
  std::vector<std::pair<double, double>> stages;  // start and end of each stage (or round)
  long rounds = 0;                         // rounds of the algorithm (sum over the stages)
  std::vector<double> link_bytes;          // bytes carried per directed link
  long events = 0;
  long flows = 0;
  double wall_s = 0;
};

/// The plane a collective runs on: the named one, or the first whose traffic includes
/// "collective" (or simply the first plane). Throws ConfigError for an unknown name.
[[nodiscard]] const Plane& collective_plane(const LoadedRun& run);
/// Simulates the collective (one SystemC kernel per process, like simulate()).
[[nodiscard]] CollectiveResult simulate_collective(const Plane& plane, const CollectiveSpec& c);
/// Runs and reports the collective phase.
[[nodiscard]] RunOutput execute_collective(const LoadedRun& run, bool want_trace);

}  // namespace orrery
