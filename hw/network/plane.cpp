#include "hw/network/plane.h"

#include <fmt/format.h>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>

#include "sim/config/errors.h"
#include "sim/config/params.h"

namespace orrery {

namespace {
constexpr int kUnreachable = std::numeric_limits<int>::max();
}  // namespace

std::string SystemShape::local_name(int e) const {
  if (is_cpu(e)) return fmt::format("cpu{}", (e - devices) % cpus_per_node);
  return fmt::format("d{}", e % devices_per_node);
}

std::string SystemShape::name(int e) const {
  if (nodes() <= 1) return local_name(e);
  return fmt::format("n{}.{}", node_of(e), local_name(e));
}

int SystemShape::find(const std::string& endpoint_name) const {
  for (int e = 0; e < endpoints(); ++e)
    if (name(e) == endpoint_name) return e;
  // "d29": a device by its global index.
  if (endpoint_name.size() > 1 && endpoint_name[0] == 'd' &&
      endpoint_name.find_first_not_of("0123456789", 1) == std::string::npos) {
    const int d = std::stoi(endpoint_name.substr(1));
    if (d < devices) return d;
  }
  return -1;
}

int Plane::add_node(const std::string& node_name, EndpointId endpoint) {
  // Work limit, as for links below: switch counts in the millions stop here, at once.
  constexpr size_t kMaxNodes = 1'000'000;
  if (nodes.size() + 1 > kMaxNodes)
    throw ConfigError(fmt::format(
        "system.planes.{}: the topology needs more than {} nodes (endpoints and switches), more than a run "
        "may simulate; reduce system.devices or the topology's switch counts (spines, rails, leaf_size)",
        name, kMaxNodes));
  nodes.push_back({node_name, endpoint});
  const int id = static_cast<int>(nodes.size()) - 1;
  if (endpoint.valid()) {
    if (device_nodes_.size() <= endpoint.index()) device_nodes_.resize(endpoint.index() + 1, -1);
    device_nodes_[endpoint.index()] = id;
  }
  return id;
}

void Plane::connect(int a, int b, double bandwidth, double latency) {
  // Work limit: ~100 bytes per link and route tables grow with them; checked as the plane is
  // laid out, so a full mesh of 100,000 devices stops at once instead of exhausting memory.
  constexpr size_t kMaxLinks = 4'000'000;
  if (links.size() + 2 > kMaxLinks)
    throw ConfigError(fmt::format(
        "system.planes.{}: the topology needs more than {} links, more than a run may simulate; "
        "reduce system.devices or the topology's size (a full_mesh has n(n-1) links)", name, kMaxLinks));
  links.push_back({a, b, bandwidth, latency});
  links.push_back({b, a, bandwidth, latency});
}

bool Plane::has_endpoint(EndpointId e) const {
  return e.valid() && e.value < endpoints() && device_nodes_[e.index()] >= 0;
}

bool Plane::must_connect(EndpointId a, EndpointId b) const {
  return has_endpoint(a) && has_endpoint(b) &&
         (scope == "system" || shape.node_of(a.value) == shape.node_of(b.value));
}

bool Plane::connects(EndpointId a, EndpointId b) const {
  return has_endpoint(a) && has_endpoint(b) &&
         dist_to_device_[b.index()][static_cast<size_t>(device_node(a))] != kUnreachable;
}

// Attached endpoints, each checked to have at least one link.
std::vector<EndpointId> Plane::attached_endpoints(const YAML::Node& at, const std::string& path) const {
  std::vector<EndpointId> attached;
  for (int i = 0; i < endpoints(); ++i) {
    const EndpointId e{i};
    if (!has_endpoint(e)) continue;
    attached.push_back(e);
    if (!out_links_[static_cast<size_t>(device_node(e))].empty()) continue;
    const char* kind = shape.is_cpu(i) ? "CPU" : "device";
    throw ConfigError(config_error_text(
        at, path, fmt::format("no route from {} {} ({}) to any other: it has no link in plane "
                              "'{}'; every {} must be connected (valid: add a link from '{}' to a "
                              "switch or device)",
                              kind, i, shape.name(i), name, kind, nodes[static_cast<size_t>(device_node(e))].name)));
  }
  return attached;
}

// Throws unless every endpoint that must reach `d` does (`dist`: hops from each node to d).
void Plane::check_reachable(EndpointId d, const std::vector<int>& dist, const std::vector<EndpointId>& attached,
                            const YAML::Node& at, const std::string& path) const {
  const auto kind = [&](EndpointId e) { return shape.is_cpu(e.value) ? "CPU" : "device"; };
  for (EndpointId s : attached) {
    if (!must_connect(s, d) || dist[static_cast<size_t>(device_node(s))] != kUnreachable) continue;
    if (scope == "system")
      throw ConfigError(config_error_text(
          at, path, fmt::format("no route from {} {} ({}) to {} {} ({}) in plane '{}'; every "
                                "device must reach every other (scope: system)",
                                kind(s), s.value, shape.name(s.value), kind(d), d.value, shape.name(d.value), name)));
    throw ConfigError(config_error_text(
        at, path, fmt::format("no route between members {} and {} of node {} in plane '{}' "
                              "(scope: node); every endpoint of a node must reach every other "
                              "endpoint of the same node",
                              shape.name(s.value), shape.name(d.value), shape.node_of(d.value), name)));
  }
}

void Plane::finalize(const YAML::Node& at, const std::string& path) {
  using G = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
  G g(nodes.size());
  out_links_.assign(nodes.size(), {});
  for (size_t i = 0; i < links.size(); ++i) {
    boost::add_edge(static_cast<size_t>(links[i].from), static_cast<size_t>(links[i].to), g);
    out_links_[static_cast<size_t>(links[i].from)].push_back(LinkId{i});
  }
  const std::vector<EndpointId> attached = attached_endpoints(at, path);
  // Work limit: the tables below hold endpoints x nodes hop counts (4 bytes each) and take one
  // BFS per endpoint; 8,192 devices on one plane already take ~1 minute and 300 MB.
  constexpr double kMaxRouteEntries = 3e7;
  const double entries = static_cast<double>(attached.size()) * static_cast<double>(nodes.size());
  if (entries > kMaxRouteEntries)
    throw ConfigError(config_error_text(
        at, path, fmt::format("plane '{}' joins {} endpoints over {} nodes: its route tables need {:.3g} entries, "
                              "more than the {:.3g} a run may hold; reduce system.devices (or cpus_per_node) "
                              "or split the system into node-scoped planes", name, attached.size(), nodes.size(),
                              entries, kMaxRouteEntries)));
  // Hops from every node to each endpoint: BFS from the endpoint on the reversed graph.
  dist_to_device_.assign(device_nodes_.size(), {});
  const auto reversed = boost::make_reverse_graph(g);
  for (EndpointId d : attached) {
    std::vector<int> dist(nodes.size(), kUnreachable);
    dist[static_cast<size_t>(device_node(d))] = 0;
    boost::breadth_first_search(
        reversed, static_cast<size_t>(device_node(d)),
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, reversed)),
            boost::on_tree_edge()))));
    check_reachable(d, dist, attached, at, path);
    dist_to_device_[d.index()] = std::move(dist);
  }
}

Path Plane::follow(int at, EndpointId dst, size_t salt, Path path) const {
  const auto& dist = dist_to_device_.at(dst.index());
  while (dist[static_cast<size_t>(at)] > 0) {
    // Equal-cost next hops, counted, then the (salt mod count)-th taken: no allocation.
    const int want = dist[static_cast<size_t>(at)] - 1;
    const auto& out = out_links_[static_cast<size_t>(at)];
    size_t count = 0;
    for (LinkId l : out) count += dist[static_cast<size_t>(link(l).to)] == want;
    size_t pick = salt % count;
    LinkId chosen;
    for (LinkId l : out)
      if (dist[static_cast<size_t>(link(l).to)] == want && pick-- == 0) {
        chosen = l;
        break;
      }
    path.push_back(chosen);
    at = link(chosen).to;
  }
  return path;
}

size_t Plane::salt(EndpointId src, EndpointId dst) const {
  if (!connects(src, dst))
    throw std::out_of_range(fmt::format("no route from {} to {} on plane '{}'", shape.name(src.value),
                                        shape.name(dst.value), name));
  // Destination-based (D-mod-K): the equal-cost choice depends on the destination only. (A
  // hash of the pair spread structured patterns unevenly: a ring's flows i -> i+1 all took the
  // same spine, (3i + i + 1) mod 4 = 1.)
  return static_cast<size_t>(dst.value);
}

Path Plane::route(EndpointId src, EndpointId dst) const {
  const size_t s = salt(src, dst);
  return follow(device_node(src), dst, s, {});
}

std::vector<Path> Plane::routes(EndpointId src, EndpointId dst) const {
  const size_t s = salt(src, dst);
  const int at = device_node(src);
  const auto& dist = dist_to_device_[dst.index()];
  if (dist[static_cast<size_t>(at)] == 0) return {{}};
  std::vector<Path> out;
  for (LinkId l : out_links_[static_cast<size_t>(at)])
    if (dist[static_cast<size_t>(link(l).to)] == dist[static_cast<size_t>(at)] - 1)
      out.push_back(follow(link(l).to, dst, s, {l}));
  return out;
}

double Plane::path_latency(const Path& path) const {
  double t = 0;
  for (LinkId l : path) t += link(l).latency;
  return t;
}

ChannelPlan Plane::channel_plan(double bottleneck) const {
  if (channel_search) return search_channels(*channel_search, bottleneck);
  if (channels > 0) return {channels, channel_bandwidth, 0, 0};
  return {};
}

double Plane::out_capacity(EndpointId e) const {
  double c = 0;
  const int node = device_node(e);
  for (LinkId l : out_links_[static_cast<size_t>(node)]) c += link(l).bandwidth * efficiency;
  return c;
}

double Plane::bottleneck(const Path& path) const {
  double b = std::numeric_limits<double>::infinity();
  for (LinkId l : path) b = std::min(b, link(l).bandwidth);
  return b;
}

}  // namespace orrery
