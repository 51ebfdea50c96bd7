// ring: each endpoint is cabled to the next, the last to the first (two endpoints: one cable).
#include "topologies/topology_registry.h"

namespace orrery {

namespace {

void build_ring(const TopologyContext& c, Plane& p, const Instance& in) {
  const auto ids = add_members(p, in);
  const size_t n = ids.size();
  for (size_t i = 0; i < n && n > 1; ++i)
    if (n > 2 || i == 0)
      p.connect(ids[i], ids[(i + 1) % n], pair_bandwidth(in.members[i], in.members[(i + 1) % n]), c.link_latency);
}

}  // namespace

TopologyKind ring_topology() { return {"ring", "ring", {}, build_ring}; }

}  // namespace orrery
