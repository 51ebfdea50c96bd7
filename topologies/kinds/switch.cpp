// switch: every endpoint has one link to one non-blocking switch.
#include "topologies/topology_registry.h"

namespace orrery {

namespace {

void build_switch(const TopologyContext& c, Plane& p, const Instance& in) {
  const int sw = p.add_node(in.prefix + "switch");
  p.device_non_blocking = true;
  for (const auto& m : in.members)
    p.connect(p.add_node(in.prefix + m.name, m.endpoint), sw, m.bandwidth, c.link_latency);
}

}  // namespace

TopologyKind switch_topology() {
  return {"switch", "switch: every endpoint has one link to one non-blocking switch", {}, build_switch};
}

}  // namespace orrery
