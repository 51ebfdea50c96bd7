// Runs one collective on a network plane: its stages (or rounds) of flows on the SystemC
// network model, and the report (time, algorithm and bus bandwidth as nccl-tests defines them, link utilisation).
#pragma once
#include <nlohmann/json.hpp>

#include <optional>

#include "hw/network/rate_log.h"
#include "sim/core/ids.h"
#include "sim/run/run.h"

namespace orrery {

struct CollectiveResult {
  double time = 0;                         // seconds until the last flow arrived
  std::string expansion;                   // staged | rounds
  std::string protocol;                    // the size ramp's choice (ll | ll128 | simple), "" if none
  std::vector<std::pair<double, double>> stages;  // start and end of each stage (or round)
  long rounds = 0;                         // rounds of the algorithm (sum over the stages)
  std::vector<double> link_bytes;          // bytes carried per directed link
  std::optional<PlaneId> scale_up_plane;   // a multi-node ring's plane inside nodes
  std::vector<double> scale_up_link_bytes; // ... and the bytes its links carried
  std::vector<RateChange> rate_log;        // the plane's rate changes (if asked for, for the trace)
  long events = 0;
  long flows = 0;
  double wall_s = 0;
};

/// The plane a collective runs on: the named one, or the first whose traffic includes
/// "collective" (or simply the first plane). Throws ConfigError for an unknown name.
[[nodiscard]] const Plane& collective_plane(const LoadedRun& run);
/// Simulates the collective on `plane` of the run's system (one SystemC kernel per process);
/// `record_rates` logs the plane's rate changes (for the trace).
[[nodiscard]] CollectiveResult simulate_collective(const LoadedRun& run, PlaneId plane,
                                                   const CollectiveSpec& c, bool record_rates = false);
/// Every pair of the group is connected by the plane, or a ConfigError says which is not.
void check_group_connected(const Plane& plane, const std::vector<int>& group);

/// Point-to-point memory transfer (op read / write) on one plane, computed in closed form:
///   read : T = L(src->dst) + a(dst) + L(dst->src) + bytes / R_read      (request out, data back)
///   write: T = L(src->dst) + bytes / R_write + a(dst) + w + L(dst->src)  (data out, ack back)
/// L = sum of the path's per-hop link latencies; a(dst) = the plane's access_latency (device)
/// or cpu_access_latency (CPU); w = write_latency; R = sum over the paths the data takes (one
/// per port on a spread plane) of their max-min fair rates over links of bandwidth x
/// read_efficiency / write_efficiency.
struct PointToPointTime {
  double time = 0;       // T
  double latency = 0;    // T without the bytes / R term
  double rate = 0;       // R, bytes/s
  int hops = 0;          // links on one path, one way
  int paths = 0;         // parallel paths the data is spread over
};
[[nodiscard]] PointToPointTime point_to_point_time(const Plane& plane, int src, int dst,
                                                   double bytes, bool write);
/// Runs and reports a read / write workload.
[[nodiscard]] RunOutput execute_point_to_point(const LoadedRun& run, const RunOptions& options);

/// Runs and reports the collective phase.
[[nodiscard]] RunOutput execute_collective(const LoadedRun& run, const RunOptions& options);

}  // namespace orrery
