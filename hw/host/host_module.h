// SystemC model of the host thread: issues the op graph in program order, one launch at a time,
// and blocks on synchronising ops until the device reports them finished.
#pragma once
#include <systemc>

#include <functional>
#include <vector>

#include "hw/host/host.h"
#include "sim/exec/op.h"
#include "sim/exec/record.h"

namespace orrery {

enum class Framework { eager, graph };

class HostModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(HostModule);
  HostModule(sc_core::sc_module_name name, const HostSpec& spec, Framework framework,
             const OpGraph& graph, std::vector<OpRecord>& records);
  HostModule(const HostModule&) = delete;
  HostModule& operator=(const HostModule&) = delete;

  /// Called when an op has been launched (device op) or done (host op).
  std::function<void(OpId)> on_launched;
  /// Kernels a device op launches on this device (the device's library may add some).
  std::function<int(OpId)> kernels_of;
  /// The device calls this when a synchronising op has finished.
  void release(OpId id);
  /// The device calls this when any device op has finished (frees a launch-queue slot).
  void device_op_done();
  [[nodiscard]] long events() const { return events_; }
  /// Host time one op occupies the host thread.
  [[nodiscard]] double issue_cost(OpId id) const;

 private:
  void step();

  HostSpec spec_;
  Framework framework_;
  const OpGraph& graph_;
  std::vector<OpRecord>& records_;
  sc_core::sc_event wake_;
  size_t next_ = 0;
  long issuing_ = -1;
  long waiting_ = -1;
  long in_flight_ = 0;     // device ops launched and not finished
  bool queue_full_ = false;
  long events_ = 0;
};

}  // namespace orrery
