#include "topologies/topology_registry.h"

#include <fmt/format.h>

#include <algorithm>

namespace orrery {

void TopologyRegistry::add(TopologyKind kind) { kinds_.push_back(std::move(kind)); }

const TopologyKind& TopologyRegistry::find(const std::string& name, const Section& section) const {
  for (const auto& k : kinds_)
    if (k.name == name) return k;
  // The same message as the enum check of the `topology` key (its choices are names()).
  section.fail("topology", fmt::format("bad value '{}'", name));
}

std::vector<std::string> TopologyRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& k : kinds_) out.push_back(k.name);
  return out;
}

// The order is the order of `orrery list`, the YAML reference and the valid names in errors.
void register_builtin_topologies(TopologyRegistry& r) {
  r.add(switch_topology());
  r.add(ring_topology());
  r.add(full_mesh_topology());
  r.add(torus_topology());
  r.add(fat_tree_topology());
  r.add(graph_topology());
}

const TopologyRegistry& topology_registry() {
  static const TopologyRegistry r = [] {
    TopologyRegistry reg;
    register_builtin_topologies(reg);
    return reg;
  }();
  return r;
}

std::vector<int> add_members(Plane& p, const Instance& in) {
  std::vector<int> ids;
  for (const auto& m : in.members) ids.push_back(p.add_node(in.prefix + m.name, m.endpoint));
  return ids;
}

double pair_bandwidth(const Member& a, const Member& b) { return std::min(a.bandwidth, b.bandwidth); }

}  // namespace orrery
