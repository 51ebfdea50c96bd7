// What the simulation sees of one rank's device, whatever its execution style: the host
// launches ops on it, it runs them against its own resources, hands network ops to whoever
// runs the network and takes their completion back. Kernel-by-kernel devices (GPUs, Gaudi,
// Ascend) are the first implementation (hw/kernel_device.h); spatial-dataflow, weight-streaming
// and bulk-synchronous devices implement the same interface and are chosen by the device's
// `execution:` key through the device-kind registry (hw/device_kinds.h).
#pragma once
#include <functional>

#include "sim/core/op.h"
#include "sim/core/record.h"

namespace orrery {

class Device {
 public:
  virtual ~Device() = default;

  /// The host launched a device op, or finished a host op (which only satisfies dependencies).
  virtual void launch(OpId id) = 0;
  /// Kernels a device op launches here (its own plus any the device's library adds); the host
  /// pays a launch for each. Asked once per op, when the host issues it.
  [[nodiscard]] virtual int kernels(OpId id) = 0;
  /// Whoever runs the network calls this when a network op handed out by on_comm_start ended.
  virtual void comm_done(OpId id) = 0;
  [[nodiscard]] virtual long events() const = 0;
  [[nodiscard]] virtual const ResourceNames& resources() const = 0;

  /// A synchronising op finished (the host may continue).
  std::function<void(OpId)> on_sync_done;
  /// Set by the host: kernels come from replayed captured graphs (framework: graph), so a
  /// kernel that finds the device idle waiting for its launch starts a graph replay.
  bool graph_replay = false;
  /// A device (kernel) op finished (frees a launch-queue slot).
  std::function<void()> on_op_done;
  /// A network op reached the head of its stream with its inputs ready.
  std::function<void(OpId)> on_comm_start;
};

}  // namespace orrery
