// full_mesh: one cable between every pair of endpoints.
#include "topologies/topology_registry.h"

namespace orrery {

namespace {

void build_full_mesh(const TopologyContext& c, Plane& p, const Instance& in) {
  const auto ids = add_members(p, in);
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = i + 1; j < ids.size(); ++j)
      p.connect(ids[i], ids[j], pair_bandwidth(in.members[i], in.members[j]), c.link_latency);
}

}  // namespace

TopologyKind full_mesh_topology() { return {"full_mesh", "full_mesh", {}, build_full_mesh}; }

}  // namespace orrery
