#include "hw/device.h"

#include "hw/device_kinds.h"

#include <algorithm>

#include "sim/config/errors.h"
#include "sim/config/registry.h"

namespace orrery {

const ParamTable& device_params() {
  static const ParamTable t{
      "device",
      "One accelerator. Engines, memory levels and host are components chosen by `type:`.",
      {
          {"name", ParamType::String, Dim::Dimensionless, "", "device name"},
          {"description", ParamType::String, Dim::Dimensionless, "-", "what this device is, with sources"},
          {"execution", ParamType::Enum, Dim::Dimensionless, "kernel_by_kernel", "execution style: a registered device kind (kernel_by_kernel is the one modelled so far)", device_kind_names()},
          {"kernel_overhead", ParamType::Quantity, Dim::Time, "1 us", "device time per kernel run back to back (block scheduling, ramp-up, tail)", {}, false, 0, true},
          {"launch_latency", ParamType::Quantity, Dim::Time, "0 s", "extra delay from launch to start when the device sits idle waiting for the launch", {}, false, 0, true},
          {"graph_launch", ParamType::Quantity, Dim::Time, "0 s", "device time to start one replayed CUDA graph before its first kernel (framework: graph; replaces launch_latency there)", {}, false, 0, true},
          {"unit_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "memory bandwidth one compute unit can draw; a kernel with few blocks cannot saturate HBM"},
          {"engines", ParamType::Section, Dim::Dimensionless, "", "mapping name -> engine (type matrix | vector)"},
          {"memory", ParamType::Section, Dim::Dimensionless, "", "mapping name -> memory level (type hbm | dram | cache)"},
          {"host", ParamType::Section, Dim::Dimensionless, "", "the host that launches kernels (type host)"},
      }};
  return t;
}

const MemoryLevelSpec& DeviceSpec::backing_memory() const {
  for (auto it = memory.rbegin(); it != memory.rend(); ++it)
    if (!it->is_cache()) return *it;
  return memory.back();
}

namespace {

void read_components(const Section& device, const std::string& key, ComponentSlot slot,
                     DeviceSpec& spec) {
  const YAML::Node map = device.node(key);
  if (!map.IsMap() || map.size() == 0)
    device.fail(key, "expected a non-empty mapping of name -> component");
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const std::string path = device.path_of(key) + "." + name;
    const YAML::Node body = it->second;
    if (!body.IsMap() || !body["type"])
      throw ConfigError(config_error_text(body, path, "expected a mapping with a 'type:' key"));
    const auto& type = registry().find(scalar_text(body["type"], path + ".type", "a component type name"),
                                       slot, body["type"], path + ".type");
    type.add(Section(body, path, *type.params), name, spec);
  }
}

}  // namespace

DeviceSpec read_device(const YAML::Node& node, const std::string& path) {
  const Section s(node, path, device_params());
  DeviceSpec d;
  d.name = s.string("name");
  d.description = s.string("description");
  d.execution = s.string("execution");  // validated against the registered device kinds
  d.kernel_overhead = s.quantity("kernel_overhead");
  d.launch_latency = s.quantity("launch_latency");
  d.unit_bandwidth = s.quantity("unit_bandwidth");
  d.graph_launch = s.quantity("graph_launch");
  read_components(s, "engines", ComponentSlot::Engine, d);
  read_components(s, "memory", ComponentSlot::Memory, d);
  {
    const YAML::Node h = s.node("host");
    if (!h.IsMap()) s.fail("host", "expected a mapping of host parameters");
    const auto& type = registry().find(h["type"] ? scalar_text(h["type"], s.path_of("host") + ".type", "a host type name") : "host",
                                       ComponentSlot::Host, h, s.path_of("host") + ".type");
    type.add(Section(h, s.path_of("host"), *type.params), "host", d);
  }
  if (d.matrix.size() != 1 || d.vector.size() != 1)
    s.fail("engines", "a kernel-by-kernel device has exactly one matrix and one vector engine");
  if (std::none_of(d.memory.begin(), d.memory.end(), [](const auto& m) { return !m.is_cache(); }))
    s.fail("memory", "a device needs one hbm or dram level to hold its tensors");
  // Caches first, smallest (fastest) first; backing levels after.
  std::stable_sort(d.memory.begin(), d.memory.end(), [](const auto& a, const auto& b) {
    if (a.is_cache() != b.is_cache()) return a.is_cache();
    return a.capacity < b.capacity;
  });
  return d;
}

void register_builtin_components(Registry& r) {
  r.add({"matrix", ComponentSlot::Engine, &matrix_engine_params(),
         [](const Section& s, const std::string& n, DeviceSpec& d) {
           d.matrix.push_back(read_matrix_engine(s, n));
         }});
  r.add({"vector", ComponentSlot::Engine, &vector_engine_params(),
         [](const Section& s, const std::string& n, DeviceSpec& d) {
           d.vector.push_back(read_vector_engine(s, n));
         }});
  for (const char* kind : {"hbm", "dram", "cache"}) {
    r.add({kind, ComponentSlot::Memory, &memory_level_params(),
           [](const Section& s, const std::string& n, DeviceSpec& d) {
             d.memory.push_back(read_memory_level(s, n));
           }});
  }
  r.add({"host", ComponentSlot::Host, &host_params(),
         [](const Section& s, const std::string&, DeviceSpec& d) { d.host = read_host(s); }});
}

}  // namespace orrery
