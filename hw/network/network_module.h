// SystemC model of one network plane at flow level: every transfer is a flow along a routed
// path; flows that share a link share its bandwidth max-min fairly (progressive filling) and
// each pays the per-hop latency of its path before its bytes move. One SC_METHOD wakes itself
// at the next flow activation or completion: events grow with flows, never with bytes.
#pragma once
#include <systemc>

#include <functional>
#include <vector>

#include "topologies/topology.h"

namespace orrery {

class NetworkModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(NetworkModule);
  NetworkModule(sc_core::sc_module_name name, const Plane& plane);
  NetworkModule(const NetworkModule&) = delete;
  NetworkModule& operator=(const NetworkModule&) = delete;

  /// Starts a transfer of `bytes` from device `src` to device `dst` now; `done` runs when the
  /// last byte arrives.
  void start_flow(int src, int dst, double bytes, std::function<void()> done);
  /// Like start_flow, but the bytes are split equally over plane().routes(src, dst), one part
  /// per port of `src` (per rail of a multi-rail Clos); `done` runs when every part arrived.
  void start_spread_flow(int src, int dst, double bytes, std::function<void()> done);
  [[nodiscard]] long events() const { return events_; }
  /// Bytes each directed link carried so far.
  [[nodiscard]] const std::vector<double>& link_bytes() const { return link_bytes_; }
  [[nodiscard]] const Plane& plane() const { return plane_; }

 private:
  struct Flow {
    std::vector<int> path;
    double remaining = 0;
    double rate = 0;
    double ready_at = 0;  // after the path's latency
    bool active = false;
    std::function<void()> done;
  };
  void start_path_flow(std::vector<int> path, double bytes, std::function<void()> done);
  void step();
  void advance(double now);
  void assign_rates();

  const Plane& plane_;
  std::vector<Flow> flows_;
  std::vector<double> link_bytes_;
  sc_core::sc_event wake_;
  double last_ = 0;
  long events_ = 0;
};

/// Max-min fair rates of flows over capacitated links (progressive filling): repeatedly find
/// the link whose remaining capacity split over its unfixed flows is smallest, fix those flows
/// at that share, and remove their use from every link they cross.
[[nodiscard]] std::vector<double> max_min_rates(const std::vector<std::vector<int>>& paths,
                                                const std::vector<double>& capacity);

}  // namespace orrery
