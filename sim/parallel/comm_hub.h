// Runs the network operations of a parallel workload: when a rank's collective or pipeline
// send/receive reaches the head of its stream, the hub starts the transfers on the network
// planes and tells the rank's device when they are done.
//
// Identical ranks doing identical work are simulated once. With `representatives`, one rank
// per pipeline stage (t = 0, d = 0) is simulated; when it starts a collective, the hub starts
// the same collective for every group of that kind at its stage (they would all start at this
// moment, by symmetry), so the network sees the full traffic and its contention. With `all`
// every rank is simulated and a collective starts when the last member of its group arrives.
// Both give the same times when replica groups see the same contention (tested).
#pragma once
#include <systemc>

#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "hw/kernel_device.h"
#include "hw/network/network_module.h"
#include "workloads/collective.h"
#include "workloads/parallel.h"

namespace orrery {

class CommHub : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CommHub);
  /// `ranks[i]` is the global rank simulated as index i.
  CommHub(sc_core::sc_module_name name, const ParallelSpec& par, const std::vector<Plane>& planes,
          std::vector<int> ranks);

  /// Connects simulated rank `index` (its device and graph) to the hub.
  void attach(int index, KernelDeviceModule& device, const OpGraph& graph);

  /// Bytes each plane's links carried, per plane then per directed link.
  [[nodiscard]] std::vector<std::vector<double>> link_bytes() const;
  [[nodiscard]] long events() const;
  [[nodiscard]] long flows() const { return flows_; }
  /// Plane each group kind used (index into planes), -1 if it never communicated.
  [[nodiscard]] const std::map<CommGroup, int>& plane_of_group() const { return group_plane_; }

 private:
  struct Rank {
    KernelDeviceModule* device = nullptr;
    const OpGraph* graph = nullptr;
    std::map<CommGroup, int> seq;  // collectives of each kind started so far
  };
  struct Waiting {                 // all-ranks mode: members that reached a collective
    std::vector<std::pair<int, OpId>> members;
  };
  struct Transfer {                // a pipeline send and its matching receive
    bool arrived = false;
    int recv_index = -1;
    OpId recv_op = 0;
  };
  using CollectiveKey = std::tuple<int, int, int>;       // kind, group leader, sequence
  using TransferKey = std::tuple<int, int, int, int>;    // sender, receiver, kind, tag

  void start(int index, OpId id);
  void start_collective(int index, OpId id);
  void start_send(int index, OpId id);
  void start_recv(int index, OpId id);
  /// Runs `spec` over `groups` (each its own collective) on one plane; `done` after all finish.
  void run_groups(CommGroup kind, const CommOp& op, const std::vector<std::vector<int>>& groups,
                  std::function<void()> done);
  void run_stages(NetworkModule& net, std::shared_ptr<std::vector<Stage>> stages, size_t k,
                  std::function<void()> done);
  /// The plane for a group: among planes joining all members, those carrying the group's
  /// traffic class first, then the highest link bandwidth x efficiency.
  int choose_plane(CommGroup kind, const std::vector<int>& members);
  /// Groups of `kind` represented by a simulated rank (itself only in all-ranks mode).
  std::vector<std::vector<int>> replica_groups(CommGroup kind, int rank) const;
  void complete_later(int index, OpId id);
  void flush();

  ParallelSpec par_;
  const std::vector<Plane>& planes_;
  std::vector<int> ranks_;
  std::vector<Rank> sim_;
  std::vector<std::unique_ptr<NetworkModule>> nets_;
  std::map<CollectiveKey, Waiting> waiting_;
  std::map<TransferKey, Transfer> transfers_;
  std::map<CommGroup, int> group_plane_;
  std::map<std::pair<int, std::vector<int>>, int> plane_cache_;  // (kind, members) -> plane
  std::vector<std::pair<int, OpId>> ready_;
  sc_core::sc_event flush_;
  long flows_ = 0;
  long events_ = 0;
};

}  // namespace orrery
