// A network plane as a graph: endpoints (devices and CPUs) and switches joined by directed
// links, routed with shortest paths (Boost.Graph), spreading equal-cost paths deterministically
// over the alternatives (ECMP). This is the plain data the network module simulates; the
// topology builders (topologies/) fill it from a YAML section.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "hw/network/channel_search.h"
#include "hw/network/protocol.h"
#include "sim/core/ids.h"

namespace orrery {

/// The endpoints of a system. Devices are grouped in nodes of `devices_per_node`; each node may
/// also hold `cpus_per_node` CPUs, which are endpoints on planes but not devices (collectives
/// group devices only). Endpoint indices: devices first, 0..devices-1 (device i is in node
/// i / devices_per_node), then CPUs: endpoint devices + k * cpus_per_node + j is CPU j of node k.
/// Names: "d5" and "cpu1" in a one-node system; "n3.d5" (device 3 * devices_per_node + 5) and
/// "n3.cpu1" with several nodes (indices inside a name are local to the node).
struct SystemShape {
  int devices = 1;
  int devices_per_node = 1;
  int cpus_per_node = 0;

  [[nodiscard]] int nodes() const { return devices / devices_per_node; }
  [[nodiscard]] int cpus() const { return nodes() * cpus_per_node; }
  [[nodiscard]] int endpoints() const { return devices + cpus(); }
  [[nodiscard]] bool is_cpu(int e) const { return e >= devices; }
  [[nodiscard]] int node_of(int e) const {
    return is_cpu(e) ? (e - devices) / cpus_per_node : e / devices_per_node;
  }
  [[nodiscard]] int cpu_endpoint(int node, int j) const { return devices + node * cpus_per_node + j; }
  /// "d5" / "cpu1" (local to the node).
  [[nodiscard]] std::string local_name(int e) const;
  /// Readable name: local_name with "n<node>." in front when the system has several nodes.
  [[nodiscard]] std::string name(int e) const;
  /// Endpoint index of a name ("n3.d5", "n0.cpu1", "d29", "cpu2"), or -1.
  [[nodiscard]] int find(const std::string& endpoint_name) const;
};

/// One direction of a cable: its own bandwidth, shared by the flows that cross it.
struct Link {
  int from = 0, to = 0;      // node indices (Plane::nodes)
  double bandwidth = 0;      // bytes/s, this direction
  double latency = 0;        // seconds per hop
};

/// A path through a plane: the directed links it crosses, in order.
using Path = std::vector<LinkId>;

struct NetNode {
  std::string name;
  EndpointId device;         // the endpoint (device or CPU; see SystemShape), invalid for a switch
};

/// A network plane, built and validated: every pair of endpoints that must be connected (all
/// of them for scope system, those of the same node for scope node) has a route.
class Plane {
 public:
  std::string name;
  std::string topology;
  std::string scope = "system";  // system: one topology over all endpoints; node: one per node
  double efficiency = 1;     // achievable fraction of link bandwidth (protocol overhead)
  std::vector<std::string> traffic;  // traffic classes assigned to this plane
  std::vector<NetNode> nodes;
  std::vector<Link> links;   // indexed by LinkId::index()
  SystemShape shape;
  bool cpus = false;         // the nodes' CPUs are endpoints of this plane
  /// A transfer is split over every port of its source (one path per rail of a multi-rail
  /// Clos), as Unified-Bus endpoints spread traffic over their links; see routes().
  bool spread = false;
  /// Multi-rail Clos: the rails are disjoint, identical sub-networks. rail_twin[l] is the link
  /// of rail 0 that plays link l's part (empty when the plane has no such symmetry). A spread
  /// transfer puts the same share on every rail, so simulating rail 0 alone gives the same
  /// times (see NetworkModule).
  int rails = 1;
  std::vector<LinkId> rail_twin;
  /// No link between switches is a bottleneck for traffic among the devices: every switch
  /// carries to other switches at least what its devices can send (one switch; a fat tree whose
  /// leaf uplinks match its devices' links). On such a plane an all-to-all-v whose senders
  /// split their bytes alike is bound by the endpoints' ports alone (see CommHub).
  bool device_non_blocking = false;
  // Point-to-point memory-semantic transfers (read/write workloads), see point_to_point_time().
  double read_efficiency = 1;
  double write_efficiency = 1;
  double access_latency = 0;      // a device serving a remote read or write
  double cpu_access_latency = 0;  // a CPU serving one
  double write_latency = 0;       // extra time before a write is acknowledged
  /// Fused all-to-all-v (MoE dispatch/combine kernels whose vector cores store tokens straight
  /// into peers' memory, no DMA start-up): what such a transfer costs on top of moving its
  /// bytes (see CommHub::fused_overhead). Absent on planes without load/store semantics.
  struct Fused {
    double dispatch_startup = 0;  // launch, token-count exchange and layout, final barrier
    double combine_startup = 0;   // launch and final barrier (the layout is known)
    double per_peer = 0;          // per destination rank: its descriptors and completion flag
  };
  std::optional<Fused> fused;
  // Collective size ramp (hw/network/protocol.h). Empty: the plain model.
  std::vector<Protocol> protocols;
  /// Channels (parallel rings, one thread block each) a collective runs on, and what one
  /// channel can move per direction: an endpoint sends at most channels x channel_bandwidth
  /// (0: no such limit).
  int channels = 0;
  double channel_bandwidth = 0;
  [[nodiscard]] double channel_rate() const { return channels > 0 ? channels * channel_bandwidth : 0.0; }
  /// Channels derived per collective from the links its rings cross (NCCL's ring search,
  /// hw/network/channel_search.h) instead of the declared channels x channel_bandwidth.
  std::optional<ChannelSearch> channel_search;
  /// The channels of a collective whose paths' narrowest link has `bottleneck` bytes/s: the
  /// search's when the plane has one, else the declared ones ({0, 0}: no channel limit).
  [[nodiscard]] ChannelPlan channel_plan(double bottleneck) const;
  /// Bandwidth of the narrowest link of a path (bytes/s, before efficiency).
  [[nodiscard]] double bottleneck(const Path& path) const;
  /// What endpoint `e` can send: the links out of its node, bandwidth x efficiency (bytes/s).
  [[nodiscard]] double out_capacity(EndpointId e) const;

  /// Adds a node and returns its index; a switch has no endpoint.
  int add_node(const std::string& node_name, EndpointId endpoint = EndpointId{});
  /// Adds a cable between nodes a and b: two directed links of the same bandwidth and latency.
  void connect(int a, int b, double bandwidth, double latency);
  /// Computes routing tables; throws ConfigError if an endpoint has no link or two endpoints
  /// that must be connected (see must_connect) have no route.
  void finalize(const YAML::Node& at, const std::string& path);

  [[nodiscard]] const Link& link(LinkId l) const { return links[l.index()]; }
  /// The endpoint (device or CPU) is attached to this plane.
  [[nodiscard]] bool has_endpoint(EndpointId e) const;
  /// The plane promises a route between a and b: both attached, and for scope node, same node.
  [[nodiscard]] bool must_connect(EndpointId a, EndpointId b) const;
  /// A route exists from a to b on this plane (a caller picks a plane per traffic class and
  /// endpoint pair with this).
  [[nodiscard]] bool connects(EndpointId a, EndpointId b) const;
  /// Directed links from endpoint `src` to `dst` (shortest path; among c equal-cost next hops
  /// the (dst mod c)-th: destination-based static routing, "D-mod-K", as InfiniBand's subnet
  /// manager programs a fat tree, so that a permutation's flows into distinct destinations
  /// leave a leaf on distinct uplinks). Throws std::out_of_range if !connects(src, dst).
  [[nodiscard]] Path route(EndpointId src, EndpointId dst) const;
  /// One shortest path per distinct first hop out of `src` (per port / rail), each continued
  /// as route() does; a transfer on a `spread` plane is split equally over them.
  [[nodiscard]] std::vector<Path> routes(EndpointId src, EndpointId dst) const;
  /// Sum of link latencies along a path.
  [[nodiscard]] double path_latency(const Path& path) const;

  /// The node of an attached endpoint.
  [[nodiscard]] int device_node(EndpointId e) const { return device_nodes_.at(e.index()); }
  /// Devices of the system (every plane attaches all of them).
  [[nodiscard]] int devices() const { return shape.devices; }
  /// Endpoint indices 0..endpoints()-1 that may be attached (devices, then CPUs).
  [[nodiscard]] int endpoints() const { return static_cast<int>(device_nodes_.size()); }

 private:
  Path follow(int at, EndpointId dst, size_t salt, Path path) const;
  [[nodiscard]] std::vector<EndpointId> attached_endpoints(const YAML::Node& at, const std::string& path) const;
  void check_reachable(EndpointId d, const std::vector<int>& dist, const std::vector<EndpointId>& attached,
                       const YAML::Node& at, const std::string& path) const;
  [[nodiscard]] size_t salt(EndpointId src, EndpointId dst) const;

  std::vector<int> device_nodes_;                 // per endpoint: its node, -1 if not attached
  std::vector<std::vector<LinkId>> out_links_;    // per node
  std::vector<std::vector<int>> dist_to_device_;  // [endpoint][node] hops
};

}  // namespace orrery
