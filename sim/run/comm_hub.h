// Runs the network operations of the simulated ranks: when a rank's collective or pipeline
// send/receive reaches the head of its stream, the hub starts the transfers on the network
// planes and tells the rank's device when they are done. It owns one NetworkModule per plane,
// so every workload that moves data (a parallel step, a lone collective) goes through it.
//
// Identical ranks doing identical work are simulated once. With `representatives`, one rank
// per pipeline stage (t = 0, d = 0) is simulated; when it starts a collective, the hub starts
// the same collective for every group of that kind at its stage (they would all start at this
// moment, by symmetry), so the network sees the full traffic and its contention. With `all`
// every rank is simulated and a collective starts when the last member of its group arrives.
// Both give the same times when replica groups see the same contention (tested).
#pragma once
#include <systemc>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "hw/network/network_module.h"
#include "sim/run/multi_node_ring.h"
#include "sim/core/ids.h"
#include "sim/engine/device.h"
#include "sim/engine/op_source.h"
#include "workloads/collective.h"
#include "workloads/parallel.h"

namespace orrery {

/// What a fused all-to-all-v kernel costs on plane `p` on top of moving its bytes, for a group
/// of `members` ranks (docs/models.md, "Fused dispatch and combine"):
///   overhead = startup(dispatch | combine) + (members - 1) x per_peer
/// Throws ConfigError when the plane has no fused support (Plane::fused).
[[nodiscard]] double fused_overhead(const Plane& p, CommOp::Fused kind, size_t members);

/// all_to_all_v among n ranks that each send `op.bytes`, split by `op.shares` over the group
/// (their own share stays local): sizes[i][j] = bytes x share[j]; a reverse op (a combine)
/// sends the same amounts back: sizes[j][i].
[[nodiscard]] std::vector<std::vector<double>> traffic_matrix(const CommOp& op, size_t n);

/// Every member of `members` reaches every other on plane `p`.
[[nodiscard]] bool joins(const Plane& p, const std::vector<int>& members);

/// The plane a group's transfers use: among planes joining all members, those carrying the
/// group's traffic class first (a plane with no traffic list carries everything), then the
/// highest link bandwidth x efficiency. Throws ConfigError when no plane joins them.
[[nodiscard]] PlaneId choose_plane(const std::vector<Plane>& planes, CommGroup kind,
                                   const std::vector<int>& members);

/// The collective size ramp (hw/network/protocol.h) applied to a collective's stages on plane
/// `p`: picks the protocol with the least estimated time, turns every flow's payload into wire
/// bytes (÷ e_p) and sets each stage's extra latency to k_s · step_p (+ base_p and the
/// pipeline fill on the first stage). Returns the protocol's name, or "" when the plane offers
/// none (stages unchanged).
std::string apply_ramp(const Plane& p, std::vector<Stage>& stages);

class CommHub : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CommHub);
  /// `ranks[i]` is the global rank simulated as index i.
  CommHub(sc_core::sc_module_name name, const ParallelSpec& par, const std::vector<Plane>& planes,
          std::vector<int> ranks);

  /// Connects simulated rank `index` (its device and op source) to the hub.
  void attach(size_t index, Device& device, const OpSource& source);
  [[nodiscard]] NetworkModule& network(PlaneId plane) { return *nets_[plane.index()]; }
  /// Runs `op` among `group` on `plane` now (no rank involved); `done` when it has finished.
  void transfer(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                std::function<void()> done);
  /// Expand every transfer into flows, never in aggregate (to check the aggregate against).
  void set_flows_only(bool on) { flows_only_ = on; }

  /// Log every plane's rate changes for the trace (NetworkModule::record_rates).
  void record_rates(bool on) {
    for (auto& n : nets_) n->record_rates(on);
  }
  /// Hands over the logged rate changes, per plane (NetworkModule::take_rate_log).
  [[nodiscard]] std::vector<std::vector<RateChange>> take_rate_logs();
  /// Bytes each plane's links carried, per plane then per directed link.
  [[nodiscard]] std::vector<std::vector<double>> link_bytes() const;
  [[nodiscard]] long events() const;
  [[nodiscard]] long flows() const { return flows_; }
  /// All-to-all-v transfers computed in aggregate (see run_aggregate) instead of flow by flow.
  [[nodiscard]] long aggregated() const { return aggregated_; }
  /// Transfers that started on a plane while an aggregate one was in progress: they were
  /// expanded into flows that do not see its load (0 in the runs the aggregate is made for).
  [[nodiscard]] long aggregate_overlaps() const { return aggregate_overlaps_; }
  /// Plane each group kind used (only kinds that communicated).
  [[nodiscard]] const std::map<CommGroup, PlaneId>& plane_of_group() const { return group_plane_; }

 private:
  struct Rank {
    Device* device = nullptr;
    const OpSource* source = nullptr;
    std::map<CommGroup, int> seq;  // collectives of each kind started so far
  };
  struct Transfer {                // a pipeline send and its matching receive
    bool arrived = false;
    int recv_index = -1;
    OpId recv_op = 0;
  };
  using CollectiveKey = std::tuple<int, int, int>;       // kind, group leader, sequence
  using TransferKey = std::tuple<int, int, int, int>;    // sender, receiver, kind, tag
  using Members = std::vector<std::pair<size_t, OpId>>;  // (rank index, op) waiting together

  void start(size_t index, OpId id);
  void start_collective(size_t index, OpId id);
  void start_send(size_t index, OpId id);
  void start_recv(size_t index, OpId id);
  /// Runs `op` over `groups` (each its own collective) on one plane; `done` after all finish.
  void run_groups(const CommOp& op, const std::vector<std::vector<int>>& groups,
                  std::function<void()> done);
  void run_stages(NetworkModule& net, std::shared_ptr<std::vector<Stage>> stages, size_t k,
                  std::function<void()> done, bool channel_limited);
  PlaneId plane_for(CommGroup kind, const std::vector<int>& members);
  /// transfer() once a fused kernel's own costs are paid; `library`: the bytes go through the
  /// communication library (NCCL), which adds its protocol costs (the size ramp) to them.
  void transfer_bytes(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                      std::function<void()> done, bool library);
  /// An all-to-all-v on a device-non-blocking plane with no flow in flight, whose senders split
  /// their bytes alike: every port drains at its full rate from its first arrival, so alone on
  /// idle ports the transfer ends at
  ///   T = max over members e of  max(out_e / out_bw_e + lat_out_e,  in_e / in_bw_e + lat_in_e)
  /// (lat: the shortest path latency from / to another member) — what the flow-level max-min
  /// model gives, to 1e-9 (tests/sim/run/comm_hub_test.cpp), at O(n) instead of O(n^2) flows.
  /// Aggregates in flight together queue on the ports (NetworkModule::reserve_aggregate).
  /// `ramp`: the library's protocol costs (library_ramp: a lead before the bytes, wire bytes
  /// / efficiency, a channel cap per sender), none when null.
  void run_aggregate(NetworkModule& net, const CommOp& op, const std::vector<int>& group,
                     std::function<void()> done, const Stage* ramp = nullptr);
  /// A node-forwarded all_to_all_v (op.node_forward; sim/run/node_forward.h): the scale-out
  /// matrix on `plane` (which joins the whole group) and, at the same time, the scale-up matrix
  /// on the plane that joins the members of one node; `done` when both have finished. The two
  /// hops overlap as DeepEP's chunked kernels do (a forwarder relays chunks as they arrive).
  void run_node_forward(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                        std::function<void()> done);
  /// A ring collective across nodes (sim/run/multi_node_ring.h): the rings' hops inside nodes
  /// on their plane and between nodes on the other, all at once; `done` when every flow arrived.
  void run_multi_node(const MultiNodeRing& ring, std::function<void()> done);
  /// Runs an explicit traffic matrix (bytes from group[i] to group[j]) on `net`: in aggregate
  /// on a device-non-blocking plane with no flow in flight (each port drains its bytes at full
  /// rate: T = max over members of max(out / out_bw + lat_out, in / in_bw + lat_in), the
  /// latencies taken over the pairs that exchange bytes; queued behind aggregates in flight),
  /// else as one round of direct flows.
  /// `ramp`: the library's costs (matrix_ramp: wire bytes / payload, a lead, a channel cap
  /// per sender), none when null.
  void run_matrix(NetworkModule& net, const std::vector<int>& group,
                  const std::vector<std::vector<double>>& sizes, std::function<void()> done,
                  const Stage* ramp = nullptr);
  /// The library's all_to_all_v of a group spanning nodes when a faster plane joins each node's
  /// members (`up`): pairs inside a node on `up`, pairs across nodes on `out`, at the same time,
  /// each part with its plane's library costs; `done` when both have finished.
  void run_library_split(const CommOp& op, const std::vector<int>& group, PlaneId out, PlaneId up,
                         std::function<void()> done);
  /// Per member of `group` on the plane of `net`: shortest path latency to and from another.
  const std::pair<std::vector<double>, std::vector<double>>& member_latency(NetworkModule& net,
                                                                            const std::vector<int>& group);
  void after(double seconds, std::function<void()> fn);
  void on_timer();
  void on_timer_body();
  /// Groups of `kind` represented by a simulated rank (itself only in all-ranks mode).
  std::vector<std::vector<int>> replica_groups(CommGroup kind, int rank) const;
  void done(size_t index, OpId id) { sim_[index].device->comm_done(id); }
  void complete_later(size_t index, OpId id);
  void flush();
  void flush_body();

  ParallelSpec par_;
  const std::vector<Plane>& planes_;
  std::vector<int> ranks_;
  std::vector<Rank> sim_;
  std::vector<std::unique_ptr<NetworkModule>> nets_;
  std::map<CollectiveKey, Members> waiting_;
  std::map<TransferKey, Transfer> transfers_;
  std::map<CommGroup, PlaneId> group_plane_;
  std::map<std::pair<int, std::vector<int>>, PlaneId> plane_cache_;  // (kind, members) -> plane
  std::map<std::tuple<size_t, int, std::vector<int>>, std::optional<MultiNodeRingLayout>> ring_layouts_;  // (plane, kind, group)
  std::map<std::tuple<size_t, int, std::vector<int>>, std::optional<PlaneId>> scale_up_;  // the library split's plane
  Members ready_;
  sc_core::sc_event flush_;
  std::multimap<double, std::function<void()>> timers_;  // absolute time -> completion
  sc_core::sc_event timer_;
  std::map<std::pair<const NetworkModule*, std::vector<int>>,
           std::pair<std::vector<double>, std::vector<double>>> latency_cache_;
  long aggregated_ = 0;
  long aggregate_overlaps_ = 0;
  bool flows_only_ = false;
  long flows_ = 0;
  long events_ = 0;
};

}  // namespace orrery
