// A network plane as a graph: device endpoints and switches joined by directed links, built
// from a topology type and routed with shortest paths (Boost.Graph), spreading equal-cost
// paths deterministically over the alternatives (ECMP).
#pragma once
#include <boost/graph/adjacency_list.hpp>

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"

namespace orrery {

/// One direction of a cable: its own bandwidth, shared by the flows that cross it.
struct Link {
  int from = 0, to = 0;      // node indices
  double bandwidth = 0;      // bytes/s, this direction
  double latency = 0;        // seconds per hop
};

struct NetNode {
  std::string name;
  int device = -1;           // device index, -1 for a switch
};

/// A network plane, built and validated: every pair of devices has a route.
class Plane {
 public:
  std::string name;
  std::string topology;
  double efficiency = 1;     // achievable fraction of link bandwidth (protocol overhead)
  std::vector<std::string> traffic;  // traffic classes assigned to this plane
  std::vector<NetNode> nodes;
  std::vector<Link> links;

  /// Adds a node and returns its index.
  int add_node(const std::string& node_name, int device);
  /// Adds a cable: two directed links of the same bandwidth and latency.
  void connect(int a, int b, double bandwidth, double latency);
  /// Computes routing tables; throws ConfigError if a device cannot reach another.
  void finalize(const YAML::Node& at, const std::string& path);
  /// Directed link indices from device `src` to device `dst` (shortest path; among equal-cost
  /// next hops the choice is spread by a hash of (src, dst)).
  [[nodiscard]] std::vector<int> route(int src, int dst) const;
  [[nodiscard]] int device_node(int device) const { return device_nodes_.at(static_cast<size_t>(device)); }
  [[nodiscard]] int devices() const { return static_cast<int>(device_nodes_.size()); }
  /// Whether the plane carries traffic between devices a and b.
  [[nodiscard]] bool connects(int a, int b) const { return a < devices() && b < devices(); }

 private:
  std::vector<int> device_nodes_;
  std::vector<std::vector<int>> out_links_;       // per node
  std::vector<std::vector<int>> dist_to_device_;  // [device][node] hops
};

[[nodiscard]] const ParamTable& plane_params();
/// Builds plane `name` for `devices` devices from its YAML section.
[[nodiscard]] Plane build_plane(const Section& s, const std::string& name, int devices);

}  // namespace orrery
