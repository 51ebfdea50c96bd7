// SystemC model of a kernel-by-kernel device (GPU, Gaudi, Ascend): streams that run launched
// kernels in order, engines that run one kernel each at a time (one matrix and one vector
// engine per core partition when the workload splits the cores), and memory levels whose
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
#include "sim/engine/device.h"
#include "sim/engine/op_source.h"

namespace orrery {

class KernelDeviceModule : public sc_core::sc_module, public Device {
 public:
  SC_HAS_PROCESS(KernelDeviceModule);
  KernelDeviceModule(sc_core::sc_module_name name, const DeviceSpec& spec, OpSource& source,
                     std::vector<OpRecord>& records);
  KernelDeviceModule(const KernelDeviceModule&) = delete;
  KernelDeviceModule& operator=(const KernelDeviceModule&) = delete;

  void launch(OpId id) override;
  /// Computes the op's cost here, when the host issues it (a dynamic source's ops do not exist
  /// before), and keeps it until the op runs.
  [[nodiscard]] int kernels(OpId id) override { return cost(id).kernels; }
  void comm_done(OpId id) override;
  [[nodiscard]] long events() const override { return events_; }
  [[nodiscard]] const ResourceNames& resources() const override { return names_; }

 private:
  struct Active {
    OpId id;
    KernelCost cost;
    int engine;
    double progress = 0;  // fraction done
    double rate = 0;      // fraction per second
  };
  void step();
  void step_body();
  void advance(double now);
  void retire(double now);
  void start_ready(double now);
  /// Starts the front op of `stream`, ready since `latest` (waiting on `why`, after op `after`).
  void start_front(int stream, double now, double latest, WaitReason why, long after);
  void assign_rates();
  void schedule(double now);
  [[nodiscard]] bool deps_done(OpId id, double& latest, WaitReason& why, long& after) const;
  const KernelCost& cost(OpId id);
  void finished(OpId id, double now);

  /// Engine index of kind `kind` (0 matrix, 1 vector) in core partition `partition`.
  [[nodiscard]] static size_t engine_of(int partition, int kind) { return 2 * static_cast<size_t>(partition) + static_cast<size_t>(kind); }
  /// The engine is busy, or (whole device vs partitions) another holds its cores.
  [[nodiscard]] bool engine_blocked(int partition, int kind) const;

  const DeviceSpec& spec_;
  std::vector<DeviceSpec> specs_;  // per core partition; [0] the whole device
  OpSource& source_;
  std::vector<OpRecord>& records_;
  std::vector<KernelCost> costs_;  // per op, computed when the host issues it
  std::vector<bool> costed_;
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
