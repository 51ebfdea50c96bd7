#include "sim/config/registry.h"

#include <fmt/format.h>

#include "sim/config/errors.h"

namespace orrery {

void Registry::add(ComponentType t) {
  const std::string key = t.type;
  types_.emplace(key, std::move(t));
}

const ComponentType& Registry::find(const std::string& type, ComponentSlot slot,
                                    const YAML::Node& at, const std::string& path) const {
  const auto it = types_.find(type);
  if (it != types_.end() && it->second.slot == slot) return it->second;
  std::string valid;
  for (const auto& [name, t] : types_)
    if (t.slot == slot) valid += (valid.empty() ? "" : ", ") + name;
  throw ConfigError(config_error_text(
      at, path, fmt::format("unknown component type '{}'; registered types here: {}", type, valid)));
}

std::vector<const ComponentType*> Registry::all() const {
  std::vector<const ComponentType*> out;
  for (const auto& [name, t] : types_) out.push_back(&t);
  return out;
}

const Registry& registry() {
  static const Registry r = [] {
    Registry reg;
    register_builtin_components(reg);
    return reg;
  }();
  return r;
}

}  // namespace orrery
