#include "hw/device_kinds.h"

#include <stdexcept>

#include "hw/device.h"
#include "hw/kernel_device.h"

namespace orrery {

namespace {

std::vector<DeviceKind> register_device_kinds() {
  std::vector<DeviceKind> kinds;
  kinds.push_back({"kernel_by_kernel",
                   "one kernel at a time per stream on the whole chip: engines, memory levels "
                   "shared max-min, launched by a host (GPUs, Gaudi, Ascend)",
                   [](const std::string& name, const DeviceSpec& spec, OpSource& source,
                      std::vector<OpRecord>& records) -> std::unique_ptr<Device> {
                     return std::make_unique<KernelDeviceModule>(name.c_str(), spec, source, records);
                   }});
  return kinds;
}

}  // namespace

const std::vector<DeviceKind>& device_kinds() {
  static const std::vector<DeviceKind> kinds = register_device_kinds();
  return kinds;
}

std::vector<std::string> device_kind_names() {
  std::vector<std::string> names;
  for (const auto& k : device_kinds()) names.push_back(k.execution);
  return names;
}

std::unique_ptr<Device> make_device(const std::string& module_name, const DeviceSpec& spec,
                                    OpSource& source, std::vector<OpRecord>& records) {
  for (const auto& k : device_kinds())
    if (k.execution == spec.execution) return k.make(module_name, spec, source, records);
  throw std::logic_error("no device kind '" + spec.execution + "' (read_device checks this)");
}

}  // namespace orrery
