// SystemC model of one network plane at flow level: every transfer is a flow along a routed
// path; flows that share a link share its bandwidth max-min fairly (progressive filling) and
// each pays the per-hop latency of its path before its bytes move. One SC_METHOD wakes itself
// at the next flow activation or completion: events grow with flows, never with bytes.
//
// Cost: flows live in a pool with a free list; pending flows wait in a heap ordered by the
// time their latency has elapsed; a step advances every active flow once (O(F)), retires every
// flow that finishes at that timestamp together, and re-solves the max-min rates only when the
// set of active flows changed, in O(L + F·hops·log L) (see MaxMinSolver).
#pragma once
#include <systemc>

#include <deque>
#include <functional>
#include <map>
#include <queue>
#include <vector>

#include "hw/network/plane.h"
#include "hw/network/rate_log.h"
#include "sim/core/ids.h"

namespace orrery {

/// Max-min fair rates by progressive filling, with an indexed heap of link shares:
/// repeatedly take the link whose remaining capacity split over its unfixed flows is smallest
/// (ties: lowest link index), fix those flows at that share and remove their use from every
/// link they cross. One solve is O(L + F·hops·log L). The arithmetic is the same, operation
/// for operation, as the textbook O(L·F) loop, so the rates are identical to the last bit.
class MaxMinSolver {
 public:
  /// Flow f crosses links hops[offset[f]] .. hops[offset[f+1]-1]; `rate` gets the rates
  /// (infinity for a flow that crosses no link). Buffers are reused between calls.
  void solve(const std::vector<int>& offset, const std::vector<int>& hops,
             const std::vector<double>& capacity, std::vector<double>& rate);

 private:
  // Indexed binary min-heap of the links in use, keyed by (share, link index).
  bool less(int a, int b) const {
    const double sa = share_[static_cast<size_t>(a)], sb = share_[static_cast<size_t>(b)];
    return sa != sb ? sa < sb : a < b;
  }
  void sift_up(size_t i);
  void sift_down(size_t i);
  void heap_remove(size_t i);
  std::vector<double> left_, share_;
  std::vector<int> users_;
  std::vector<int> start_, members_;  // CSR: flows crossing each link
  std::vector<char> fixed_;
  std::vector<int> dirty_;
  std::vector<char> is_dirty_;
  std::vector<int> heap_;  // link ids
  std::vector<int> pos_;   // position of each link in heap_, -1 if absent
};

class NetworkModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(NetworkModule);
  NetworkModule(sc_core::sc_module_name name, const Plane& plane);
  NetworkModule(const NetworkModule&) = delete;
  NetworkModule& operator=(const NetworkModule&) = delete;

  /// Starts a transfer of `bytes` from device `src` to device `dst` now; `done` runs when the
  /// last byte arrives. The flow first waits its path latency times `latency_rounds` (a staged
  /// collective charges a flow that stands for k rounds of an algorithm k path latencies).
  /// `extra_latency` is added once to that wait (a protocol's step and base costs). A flow
  /// with `channel_rate` > 0 (bytes/s: the channels its collective runs on, Plane::channel_plan)
  /// shares that rate with the other flows out of the same endpoint that have the same one.
  void start_flow(EndpointId src, EndpointId dst, double bytes, std::function<void()> done,
                  double latency_rounds = 1, double extra_latency = 0, double channel_rate = 0);
  /// (start_flow does this itself on a plane with `spread`.)
  /// Like start_flow, but the bytes are split equally over plane().routes(src, dst), one part
  /// per port of `src` (per rail of a multi-rail Clos); `done` runs when every part arrived.
  void start_spread_flow(EndpointId src, EndpointId dst, double bytes, std::function<void()> done,
                         double latency_rounds = 1, double extra_latency = 0, double channel_rate = 0);
  /// Capacity of an endpoint's own links, out of it and into it (bandwidth x efficiency).
  struct Ports {
    double out_bw = 0, in_bw = 0;
  };
  [[nodiscard]] const Ports& ports(EndpointId e);
  /// Charges bytes that an aggregated transfer (CommHub) moved through an endpoint's own links,
  /// split over them by bandwidth; the switch-to-switch links it crossed are not charged.
  void charge_ports(EndpointId e, double out_bytes, double in_bytes);
  [[nodiscard]] long events() const { return events_; }
  /// No flow is moving or waiting out its latency.
  [[nodiscard]] bool idle() const { return active_.empty() && pending_.empty(); }
  /// Bytes each directed link carried so far, indexed by LinkId::index().
  [[nodiscard]] std::vector<double> link_bytes() const;
  [[nodiscard]] const Plane& plane() const { return plane_; }

  /// Log every change of a link's rate (and of the plane's total) from now on, for the trace
  /// (hw/network/rate_log.h). Off by default: a run without a trace does no extra work.
  void record_rates(bool on) { record_ = on; }
  /// The changes logged so far. With folded rails only rail 0's links appear (every rail
  /// carries the same); the plane total counts every rail.
  [[nodiscard]] const std::vector<RateChange>& rate_log() const { return rate_log_; }
  /// Hands the log over (it can hold millions of changes; no copy).
  [[nodiscard]] std::vector<RateChange> take_rate_log() { return std::move(rate_log_); }
  /// An aggregated transfer among `members` (CommHub::run_aggregate): member i sends out[i]
  /// and receives in[i] through its own ports, first come, first served after the aggregates
  /// already booked on them, so concurrent aggregates (two micro-batches' all-to-alls) queue on
  /// the ports instead of each running as if alone. `lead` is a fixed cost before any byte
  /// moves (a communication library's protocol), `max_out_bw` caps a sender (its channels;
  /// 0: the port's own capacity):
  ///   out_start_i = max(now + lead, out_free_i)           out_free_i = out_start_i + out_i / B_out,i
  ///   in_start_j  = max(first sender's start, ...) + lat_in_j, after in_free_j
  ///                                                        in_free_j  = in_start_j + in_j / B_in,j
  ///   T = max over i, j of (out_free_i + lat_out_i, in_free_j) - now
  /// Alone on idle ports: T = lead + max(out_i / B_out,i + lat_out_i, in_j / B_in,j + lat_in_j).
  /// Charges the bytes (charge_ports), logs the links' rates over the booked intervals for the
  /// trace, and returns T.
  double reserve_aggregate(const std::vector<int>& members, const std::vector<double>& out,
                           const std::vector<double>& in, const std::vector<double>& lat_out,
                           const std::vector<double>& lat_in, double lead = 0, double max_out_bw = 0);
  /// When the last aggregated transfer booked on this plane's ports ends (0: none yet).
  [[nodiscard]] double ports_busy_until() const { return ports_busy_until_; }

 private:
  enum class State : char { free, pending, active };
  struct Flow {
    Path path;
    double remaining = 0;
    double carried = 0;  // bytes moved so far (credited to the links when the flow retires)
    double rate = 0;
    double ready_at = 0;  // after the path's latency
    long order = 0;       // creation order: ties of the pending heap
    int channel_link = -1;  // index of its source's channel limit in capacity_, or -1
    State state = State::free;
    std::function<void()> done;
  };
  struct Pending {
    double ready_at;
    long order;
    int id;
    bool operator>(const Pending& o) const { return ready_at != o.ready_at ? ready_at > o.ready_at : order > o.order; }
  };
  void start_path_flow(Path path, double bytes, std::function<void()> done,
                       double latency_rounds, double extra_latency, int channel_link);
  /// capacity_ index of the channel limit of endpoint `src` at `rate` (after the plane's
  /// links, made on first use), or -1 when rate is 0.
  [[nodiscard]] int channel_link(EndpointId src, double rate);
  void step();
  void step_body();
  void advance(double now);
  void assign_rates();
  void retire(int id);
  /// After a re-solve: logs the links whose load (sum of their flows' rates) changed.
  void log_rates();

  const Plane& plane_;
  std::vector<double> capacity_;  // the plane's links, then the channel limits in use
  std::map<std::pair<int, double>, int> channel_links_;  // (endpoint, rate) -> capacity_ index
  std::deque<Flow> flows_;  // pool (stable under growth); free slots are listed in free_
  std::vector<int> free_;
  std::vector<int> active_;  // ids of active flows
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  std::vector<double> link_bytes_;  // of retired flows
  struct PortLinks {
    bool known = false;
    Ports capacity;
    std::vector<LinkId> out, in;
  };
  std::vector<PortLinks> ports_;     // per endpoint, found on first use
  struct PortClock {
    double out_free = 0, in_free = 0;  // when the aggregates booked on the ports end
  };
  std::vector<PortClock> port_clock_;  // per endpoint
  double ports_busy_until_ = 0;
  MaxMinSolver solver_;
  std::vector<int> offset_buf_, hops_buf_;
  std::vector<double> rates_buf_;
  sc_core::sc_event wake_;
  double last_ = 0;
  long events_ = 0;
  long created_ = 0;
  // Rate log (trace only): the load last logged per link and for the whole plane, the links
  // whose logged load is non-zero, and scratch space for the next load.
  bool record_ = false;
  std::vector<RateChange> rate_log_;
  std::vector<double> logged_load_, next_load_;
  std::vector<char> touched_mark_;
  std::vector<int> live_links_, touched_;
  double logged_total_ = 0;
};

/// Max-min fair rates of flows over capacitated links (progressive filling): repeatedly find
/// the link whose remaining capacity split over its unfixed flows is smallest, fix those flows
/// at that share, and remove their use from every link they cross.
[[nodiscard]] std::vector<double> max_min_rates(const std::vector<std::vector<int>>& paths,
                                                const std::vector<double>& capacity);
/// The same for paths of a plane (indices of `capacity` are LinkId::index()).
[[nodiscard]] std::vector<double> max_min_path_rates(const std::vector<Path>& paths,
                                                     const std::vector<double>& capacity);
/// The textbook O(L·F) loop of the same algorithm, kept as the reference the tests compare
/// the fast solver with.
[[nodiscard]] std::vector<double> max_min_rates_reference(const std::vector<std::vector<int>>& paths,
                                                          const std::vector<double>& capacity);

}  // namespace orrery
