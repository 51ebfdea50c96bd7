// Network planes built from a topology type: the plane's YAML section is read against
// plane_params() and laid out by the registered topology kind (topologies/topology_registry.h,
// one file per kind in topologies/kinds/). The plane itself (nodes, links, routing) is plain
// data of the network, hw/network/plane.h, re-exported here.
#pragma once
#include <string>

#include "hw/network/plane.h"
#include "sim/config/params.h"

namespace orrery {

/// The keys of a plane section: the common ones and every registered kind's own.
[[nodiscard]] const ParamTable& plane_params();
/// Builds plane `name` for the system's endpoints from its YAML section.
[[nodiscard]] Plane build_plane(const Section& s, const std::string& name, const SystemShape& shape);

}  // namespace orrery
