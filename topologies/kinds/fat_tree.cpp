// fat_tree: two-tier Clos. Endpoints are cut into leaf groups of `leaf_size`; each group has
// `rails` leaf switches and every endpoint one link to each. Spines come in `rails` sets of
// `spines`; the rail-k leaf of every group has one uplink to each spine of set k. Uplink
// bandwidth: uplink_bandwidth, or
//   (sum of a full group's endpoint link bandwidths) / (spines x oversubscription)
#include <fmt/format.h>

#include <algorithm>

#include "topologies/topology_registry.h"

namespace orrery {

namespace {

struct FatTree {
  long leaf_size, spines, rails;
  double oversubscription;
  double uplink;
};

double uplink_bandwidth(const Section& s, const Instance& in, const FatTree& t) {
  const long leaf_size = t.leaf_size;
  const long n = static_cast<long>(in.members.size());
  double group_down = 0;
  const long first = std::min(leaf_size, n);
  for (long i = 0; i < first; ++i) group_down += in.members[static_cast<size_t>(i)].bandwidth;
  group_down *= static_cast<double>(leaf_size) / static_cast<double>(first);
  return s.has("uplink_bandwidth") ? s.quantity("uplink_bandwidth")
                                   : group_down / (static_cast<double>(t.spines) * t.oversubscription);
}

/// spine node indices per rail.
std::vector<std::vector<int>> add_spines(Plane& p, const Instance& in, const FatTree& t) {
  std::vector<std::vector<int>> spine_ids(static_cast<size_t>(t.rails));
  for (long k = 0; k < t.rails; ++k)
    for (long j = 0; j < t.spines; ++j)
      spine_ids[static_cast<size_t>(k)].push_back(p.add_node(
          in.prefix + (t.rails == 1 ? fmt::format("spine{}", j) : fmt::format("r{}.spine{}", k, j))));
  return spine_ids;
}

void build_fat_tree(const TopologyContext& c, Plane& p, const Instance& in) {
  const Section& s = c.section;
  FatTree t{s.integer("leaf_size"), s.integer("spines"), s.integer("rails"), s.real("oversubscription"), 0};
  const long n = static_cast<long>(in.members.size());
  const auto ids = add_members(p, in);
  const long leaves = (n + t.leaf_size - 1) / t.leaf_size;
  const auto spine_ids = add_spines(p, in, t);
  t.uplink = uplink_bandwidth(s, in, t);
  // A leaf group that is exactly one node's endpoints is named after the node: n3.leaf (.r2).
  const bool per_node = in.prefix.empty() && p.shape.nodes() > 1 && t.leaf_size == c.members_per_node;
  // Links of rail k of a leaf group are added in the same order as rail 0's: record the twins.
  p.rail_twin.resize(p.links.size(), LinkId{});
  for (long l = 0; l < leaves; ++l) {
    size_t rail0_start = p.links.size();
    for (long k = 0; k < t.rails; ++k) {
      const size_t start = p.links.size();
      if (k == 0) rail0_start = start;
      const std::string group = per_node ? fmt::format("n{}.leaf", l) : fmt::format("leaf{}", l);
      const int leaf = p.add_node(in.prefix + group + (t.rails == 1 ? "" : fmt::format(".r{}", k)));
      for (long i = l * t.leaf_size; i < std::min<long>((l + 1) * t.leaf_size, n); ++i)
        p.connect(ids[static_cast<size_t>(i)], leaf, in.members[static_cast<size_t>(i)].bandwidth, c.link_latency);
      if (leaves > 1)
        for (int spine : spine_ids[static_cast<size_t>(k)]) p.connect(leaf, spine, t.uplink, c.link_latency);
      for (size_t x = start; x < p.links.size(); ++x) p.rail_twin.push_back(LinkId{rail0_start + (x - start)});
    }
  }
  p.spread = t.rails > 1;
  p.rails = static_cast<int>(t.rails);
  // Device-non-blocking: a leaf's uplinks carry at least what its devices' links can (CPUs
  // apart: expert traffic is among devices). One leaf: nothing crosses the spines.
  double device_down = 0;
  long devices_in_leaf = 0;
  for (long i = 0; i < std::min(t.leaf_size, n); ++i)
    if (!p.shape.is_cpu(in.members[static_cast<size_t>(i)].endpoint.value)) {
      device_down += in.members[static_cast<size_t>(i)].bandwidth;
      ++devices_in_leaf;
    }
  p.device_non_blocking = leaves == 1 || t.uplink * double(t.spines) >= device_down * (1 - 1e-9);
  (void)devices_in_leaf;
}

}  // namespace

TopologyKind fat_tree_topology() {
  return {"fat_tree",
          "fat_tree: two-tier Clos of leaves and spines, optionally multi-rail",
          {
              {"leaf_size", ParamType::Integer, Dim::Dimensionless, "8", "fat_tree: endpoints per leaf group (listed node by node: a node's devices, then its CPUs)", {}, false, 0, false, 65536.0},
              {"rails", ParamType::Integer, Dim::Dimensionless, "1", "fat_tree: leaf switches per leaf group; every endpoint has one link to each, and the rail-k leaves connect only to the spines of rail k; a transfer is spread over the rails", {}, false, 0, false, 1024.0},
              {"spines", ParamType::Integer, Dim::Dimensionless, "4", "fat_tree: spine switches per rail; every leaf of the rail has one uplink to each", {}, false, 0, false, 65536.0},
              {"fold_rails", ParamType::Bool, Dim::Dimensionless, "true", "fat_tree with rails: simulate one rail and copy it (the rails are identical and every transfer is spread evenly, so the times are the same; false simulates every rail)"},
              {"oversubscription", ParamType::Real, Dim::Dimensionless, "1", "fat_tree: leaf downlink bandwidth / uplink bandwidth (when uplink_bandwidth is not given)"},
              {"uplink_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "fat_tree: bandwidth of one leaf-spine link (default: derived from oversubscription)", {}, true},
          },
          build_fat_tree};
}

}  // namespace orrery
