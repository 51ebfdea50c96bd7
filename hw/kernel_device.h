// SystemC model of a kernel-by-kernel device (GPU, Gaudi, Ascend): streams that run launched
// kernels in order, engines that run one kernel each at a time, and memory levels whose
// bandwidth concurrent kernels share max-min fairly. One SC_METHOD wakes itself at the next
// kernel completion: events grow with kernels, never with bytes or cycles.
#pragma once
#include <systemc>

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "hw/device.h"
#include "hw/kernel_cost.h"
#include "sim/exec/op.h"
#include "sim/exec/record.h"

namespace orrery {

class KernelDeviceModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(KernelDeviceModule);
  KernelDeviceModule(sc_core::sc_module_name name, const DeviceSpec& spec, const OpGraph& graph,
                     std::vector<OpRecord>& records);
  KernelDeviceModule(const KernelDeviceModule&) = delete;
  KernelDeviceModule& operator=(const KernelDeviceModule&) = delete;

  /// The host launched a device op, or finished a host op (which only satisfies dependencies).
  void launched(OpId id);
  /// Called when a synchronising op finishes.
  std::function<void(OpId)> on_sync_done;
  /// Called when any device (kernel) op finishes.
  std::function<void()> on_op_done;
  /// Called when a network op reaches the head of its stream with its inputs ready; whoever
  /// runs the network calls comm_done() when the transfer has finished.
  std::function<void(OpId)> on_comm_start;
  void comm_done(OpId id);
  [[nodiscard]] long events() const { return events_; }
  [[nodiscard]] const ResourceNames& resources() const { return names_; }
  /// Kernels a device op launches here (its own plus any the device's library adds).
  [[nodiscard]] int kernels(OpId id) const { return costs_[id].kernels; }

 private:
  struct Active {
    OpId id;
    KernelCost cost;
    int engine;
    double progress = 0;  // fraction done
    double rate = 0;      // fraction per second
  };
  void step();
  void advance(double now);
  void retire(double now);
  void start_ready(double now);
  void assign_rates();
  void schedule(double now);
  [[nodiscard]] bool deps_done(OpId id, double& latest, WaitReason& why, long& after) const;

  const DeviceSpec& spec_;
  const OpGraph& graph_;
  std::vector<OpRecord>& records_;
  std::vector<KernelCost> costs_;  // computed once per op at construction
  ResourceNames names_;
  sc_core::sc_event wake_;
  std::map<int, std::deque<OpId>> streams_;
  std::map<int, long> stream_last_op_;
  std::vector<bool> engine_busy_;
  std::vector<double> engine_free_at_;
  std::vector<Active> active_;
  std::vector<OpId> comm_running_;  // network ops in flight
  double last_ = 0;
  long events_ = 0;
};

}  // namespace orrery
