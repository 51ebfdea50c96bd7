// One simulation: N ranks (a device and its host each, pulling ops from a source), the network
// planes and the communication hub, in one SystemC kernel, run once. A one-device run is the
// case N = 1 with no planes; a lone collective is N = 0 with traffic started on the hub's
// networks. Every run path builds its modules here and nowhere else.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "hw/device.h"
#include "hw/host/host_module.h"
#include "sim/run/comm_hub.h"

namespace orrery {

/// A rank to simulate: its global rank id, pipeline stage and where its ops come from.
struct RankPlan {
  int rank = 0;
  int stage = 0;
  OpSource* source = nullptr;
};

/// What happened on one simulated rank.
struct RankResult {
  int rank = 0, stage = 0;
  const OpSource* source = nullptr;
  std::vector<OpRecord> records;  // indexed by OpId
  ResourceNames resources;
  long events = 0;                // host + device process activations
  double makespan = 0;            // when its last op ended
};

struct SimulationResult {
  std::vector<RankResult> ranks;
  std::vector<std::vector<double>> link_bytes;  // per plane, per directed link
  std::vector<std::vector<RateChange>> rate_logs;  // per plane, if CommHub::record_rates
  std::map<CommGroup, PlaneId> plane_of_group;
  long events = 0;       // every process activation (ranks, hub, networks)
  long flows = 0;
  long aggregated = 0;          // all-to-all-v transfers computed in aggregate (CommHub)
  long aggregate_overlaps = 0;  // transfers that started during one (did not see its load)
  double makespan = 0;   // simulated seconds until everything drained
  double wall_s = 0;     // wall-clock seconds of the SystemC run
};

class Simulation {
 public:
  /// Builds every module. Must be constructed at most once per process (one SystemC kernel per
  /// process); sweeps run one process per point.
  Simulation(const DeviceSpec& device, Framework framework, const std::vector<Plane>& planes,
             const ParallelSpec& parallel, const std::vector<RankPlan>& ranks);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  /// The networks, for workloads that start traffic themselves (a lone collective).
  [[nodiscard]] CommHub& hub() { return *hub_; }
  /// Runs until every op has finished and the network drained; throws what a process raised,
  /// and std::logic_error if an op never finished (a receive without its send).
  [[nodiscard]] SimulationResult run();

 private:
  struct RankModules;
  std::vector<RankPlan> plans_;
  std::vector<std::unique_ptr<RankModules>> modules_;
  std::unique_ptr<CommHub> hub_;
  std::vector<std::vector<OpRecord>> records_;
  bool network_ = false, pipeline_ = false;
};

}  // namespace orrery
