// Device kinds: how a device executes an operator graph, chosen by the device's `execution:`
// key. Each kind is one implementation of the engine's Device interface (sim/engine/device.h),
// registered here once by name; the simulation asks this registry for a rank's device and never
// names a concrete class. To add a kind (spatial dataflow, weight streaming, ...): implement
// Device in hw/, add one entry in device_kinds.cpp, and its name becomes a valid `execution:`.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/engine/device.h"
#include "sim/engine/op_source.h"

namespace orrery {

struct DeviceSpec;

using DeviceFactory = std::function<std::unique_ptr<Device>(
    const std::string& module_name, const DeviceSpec& spec, OpSource& source,
    std::vector<OpRecord>& records)>;

struct DeviceKind {
  std::string execution;    // the `execution:` value that selects it
  std::string description;  // one line for `orrery list`
  DeviceFactory make;
};

/// Every registered kind, in registration order.
[[nodiscard]] const std::vector<DeviceKind>& device_kinds();
[[nodiscard]] std::vector<std::string> device_kind_names();
/// Builds the device of kind `spec.execution` (read_device has checked that it is registered).
[[nodiscard]] std::unique_ptr<Device> make_device(const std::string& module_name,
                                                  const DeviceSpec& spec, OpSource& source,
                                                  std::vector<OpRecord>& records);

}  // namespace orrery
