// The component registry: YAML `type:` strings -> parameter tables and readers (Ramulator-style).
// Filled by one visible call, register_builtin_components(), not by static initialisers.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim/config/params.h"

namespace orrery {

struct DeviceSpec;

/// Where in a device description a component type may appear.
enum class ComponentSlot { Engine, Memory, Host };

struct ComponentType {
  std::string type;
  ComponentSlot slot;
  const ParamTable* params;
  /// Reads the section into the device spec under the given instance name.
  std::function<void(const Section&, const std::string& name, DeviceSpec&)> add;
};

class Registry {
 public:
  void add(ComponentType t);
  /// Throws ConfigError naming the registered types of that slot when `type` is unknown.
  [[nodiscard]] const ComponentType& find(const std::string& type, ComponentSlot slot,
                                          const YAML::Node& at, const std::string& path) const;
  [[nodiscard]] std::vector<const ComponentType*> all() const;

 private:
  std::map<std::string, ComponentType> types_;
};

/// The registry with every built-in component. Calls register_builtin_components once.
[[nodiscard]] const Registry& registry();
void register_builtin_components(Registry& r);

}  // namespace orrery
