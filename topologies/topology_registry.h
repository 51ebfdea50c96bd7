// Topology kinds (YAML `topology:` of a plane) as registry entries: each kind is a name, its
// own keys of the plane section and a builder that lays one instance of the topology out on a
// plane. Filled by one visible call, register_builtin_topologies(), not by static initialisers
// (the same pattern as the component registry, sim/config/registry.h).
#pragma once
#include <string>
#include <vector>

#include "hw/network/plane.h"
#include "sim/config/params.h"

namespace orrery {

/// One endpoint of a topology instance: its endpoint, its name inside the instance (the
/// instance prefix is added to every node of the instance) and the bandwidth of its links.
struct Member {
  EndpointId endpoint;
  std::string name;
  double bandwidth = 0;
};

/// One copy of a topology: its endpoints (in order) and the prefix of its node names.
struct Instance {
  std::vector<Member> members;
  std::string prefix;
};

/// What a builder may read besides the instance: the plane's section and common keys.
struct TopologyContext {
  const Section& section;
  double link_bandwidth = 0;  // link_bandwidth of the plane (a device's links)
  double link_latency = 0;    // per hop
  int members_per_node = 0;   // endpoints of one node on this plane (devices, then CPUs)
};

/// Lays one instance of a topology out on the plane (nodes and links).
using TopologyBuilder = void (*)(const TopologyContext&, Plane&, const Instance&);

struct TopologyKind {
  std::string name;
  /// One clause of the `topology` key's description, e.g. "torus (dims)".
  std::string summary;
  /// Keys of the plane section that only this kind reads (their descriptions name the kind).
  std::vector<ParamDecl> params;
  TopologyBuilder build = nullptr;
};

class TopologyRegistry {
 public:
  void add(TopologyKind kind);
  /// The kind called `name`; throws ConfigError for `section`'s topology key, listing the
  /// registered names, when there is none.
  [[nodiscard]] const TopologyKind& find(const std::string& name, const Section& section) const;
  /// In registration order (the order of the docs and of error messages).
  [[nodiscard]] const std::vector<TopologyKind>& all() const { return kinds_; }
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  std::vector<TopologyKind> kinds_;
};

/// The registry with every built-in kind. Calls register_builtin_topologies once.
[[nodiscard]] const TopologyRegistry& topology_registry();
void register_builtin_topologies(TopologyRegistry& r);

// The built-in kinds, one per file in topologies/kinds/.
[[nodiscard]] TopologyKind switch_topology();
[[nodiscard]] TopologyKind ring_topology();
[[nodiscard]] TopologyKind full_mesh_topology();
[[nodiscard]] TopologyKind torus_topology();
[[nodiscard]] TopologyKind fat_tree_topology();
[[nodiscard]] TopologyKind graph_topology();

// Helpers shared by the kinds.
/// Adds the instance's endpoints as nodes; returns their node indices in member order.
[[nodiscard]] std::vector<int> add_members(Plane& p, const Instance& in);
/// A cable between two endpoints runs at the slower of their link bandwidths.
[[nodiscard]] double pair_bandwidth(const Member& a, const Member& b);

}  // namespace orrery
