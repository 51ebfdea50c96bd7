// SystemC model of the host thread: pulls ops from its source in program order, launches them
// on its device one at a time, and blocks on synchronising ops until the device reports them
// finished. The host and its device are wired to each other here, once.
#pragma once
#include <systemc>

#include <deque>
#include <utility>
#include <functional>
#include <vector>

#include "hw/host/host.h"
#include "sim/engine/device.h"
#include "sim/engine/op_source.h"

namespace orrery {


class HostModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(HostModule);
  /// Grows `records` as it pulls ops from `source`.
  HostModule(sc_core::sc_module_name name, const HostSpec& spec, Framework framework,
             OpSource& source, std::vector<OpRecord>& records, Device& device);
  HostModule(const HostModule&) = delete;
  HostModule& operator=(const HostModule&) = delete;

  [[nodiscard]] long events() const { return events_; }
  /// Host time one op occupies the host thread.
  [[nodiscard]] double issue_cost(OpId id) const;

 private:
  void step();
  void step_body();
  /// A synchronising op has finished.
  void release(OpId id);
  /// A device op has finished (frees a launch-queue slot).
  void device_op_done();
  /// A launch has crossed the submit latency: hand the oldest one in transit to the device.
  void deliver();
  /// Hands `id` to the device now (host ops, graph replay) or after the submit latency (eager).
  void submit(OpId id);

  HostSpec spec_;
  Framework framework_;
  OpSource& source_;
  std::vector<OpRecord>& records_;
  Device& device_;
  sc_core::sc_event wake_;
  sc_core::sc_event arrive_;          // the oldest launch in transit reaches the device
  std::deque<std::pair<double, OpId>> in_transit_;  // (arrival time, op), in program order
  size_t next_ = 0;
  long issuing_ = -1;
  long waiting_ = -1;
  long in_flight_ = 0;     // device ops launched and not finished
  bool queue_full_ = false;
  long events_ = 0;
};

}  // namespace orrery
