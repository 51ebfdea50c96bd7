#include "topologies/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"

namespace orrery {

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

const ParamTable& plane_params() {
  static const ParamTable t{
      "plane",
      "A network plane: a topology of links joining the devices (and switches, and CPUs).",
      {
          {"topology", ParamType::Enum, Dim::Dimensionless, "", "switch: every endpoint has one link to one non-blocking switch; ring; full_mesh; torus (dims); fat_tree: two-tier Clos of leaves and spines, optionally multi-rail; graph: explicit switches and links", {"switch", "ring", "full_mesh", "torus", "fat_tree", "graph"}},
          {"scope", ParamType::Enum, Dim::Dimensionless, "system", "system: one topology over every endpoint; node: the topology replicated inside each node (endpoints of different nodes are not connected by this plane)", {"system", "node"}},
          {"cpus", ParamType::Bool, Dim::Dimensionless, "false", "attach the nodes' CPUs (system.cpus_per_node) to this plane as endpoints"},
          {"link_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth of one link, per direction"},
          {"cpu_link_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth of one link of a CPU endpoint, per direction (default: link_bandwidth)", {}, true},
          {"link_latency", ParamType::Quantity, Dim::Time, "1 us", "latency of one hop", {}, false, 0, true},
          {"efficiency", ParamType::Real, Dim::Dimensionless, "1", "achievable fraction of link bandwidth after protocol overheads"},
          {"traffic", ParamType::Any, Dim::Dimensionless, "", "traffic classes this plane carries (collective, tensor, expert, data, pipeline, kv, storage, management)", {}, true},
          {"dims", ParamType::Any, Dim::Dimensionless, "", "torus: sizes of each dimension, e.g. [4, 4]; their product is the endpoint count (per node for scope node)", {}, true},
          {"leaf_size", ParamType::Integer, Dim::Dimensionless, "8", "fat_tree: endpoints per leaf group (listed node by node: a node's devices, then its CPUs)"},
          {"rails", ParamType::Integer, Dim::Dimensionless, "1", "fat_tree: leaf switches per leaf group; every endpoint has one link to each, and the rail-k leaves connect only to the spines of rail k; a transfer is spread over the rails"},
          {"spines", ParamType::Integer, Dim::Dimensionless, "4", "fat_tree: spine switches per rail; every leaf of the rail has one uplink to each"},
          {"fold_rails", ParamType::Bool, Dim::Dimensionless, "true", "fat_tree with rails: simulate one rail and copy it (the rails are identical and every transfer is spread evenly, so the times are the same; false simulates every rail)"},
          {"oversubscription", ParamType::Real, Dim::Dimensionless, "1", "fat_tree: leaf downlink bandwidth / uplink bandwidth (when uplink_bandwidth is not given)"},
          {"uplink_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "fat_tree: bandwidth of one leaf-spine link (default: derived from oversubscription)", {}, true},
          {"switches", ParamType::Any, Dim::Dimensionless, "", "graph: names of switch nodes (endpoints are d0, d1, ..., cpu0, ...; n3.d5 in a multi-node system plane)", {}, true},
          {"links", ParamType::Any, Dim::Dimensionless, "", "graph: list of [a, b] or {a, b, bandwidth, latency} cables", {}, true},
          {"read_efficiency", ParamType::Real, Dim::Dimensionless, "", "point-to-point read: achievable fraction of link bandwidth (default: efficiency)", {}, true},
          {"write_efficiency", ParamType::Real, Dim::Dimensionless, "", "point-to-point write: achievable fraction of link bandwidth (default: efficiency)", {}, true},
          {"access_latency", ParamType::Quantity, Dim::Time, "0 us", "point-to-point: time a device takes to serve a remote read or write", {}, false, 0, true},
          {"cpu_access_latency", ParamType::Quantity, Dim::Time, "", "point-to-point: the same for a CPU (default: access_latency)", {}, true, 0, true},
          {"write_latency", ParamType::Quantity, Dim::Time, "0 us", "point-to-point: extra time before a write is acknowledged (commit at the target)", {}, false, 0, true},
      }};
  return t;
}

int Plane::add_node(const std::string& node_name, int endpoint) {
  nodes.push_back({node_name, endpoint});
  const int id = static_cast<int>(nodes.size()) - 1;
  if (endpoint >= 0) {
    if (static_cast<int>(device_nodes_.size()) <= endpoint) device_nodes_.resize(static_cast<size_t>(endpoint) + 1, -1);
    device_nodes_[static_cast<size_t>(endpoint)] = id;
  }
  return id;
}

void Plane::connect(int a, int b, double bandwidth, double latency) {
  links.push_back({a, b, bandwidth, latency});
  links.push_back({b, a, bandwidth, latency});
}

bool Plane::has_endpoint(int e) const {
  return e >= 0 && e < endpoints() && device_nodes_[static_cast<size_t>(e)] >= 0;
}

bool Plane::must_connect(int a, int b) const {
  return has_endpoint(a) && has_endpoint(b) && (scope == "system" || shape.node_of(a) == shape.node_of(b));
}

bool Plane::connects(int a, int b) const {
  return has_endpoint(a) && has_endpoint(b) &&
         dist_to_device_[static_cast<size_t>(b)][static_cast<size_t>(device_node(a))] !=
             std::numeric_limits<int>::max();
}

void Plane::finalize(const YAML::Node& at, const std::string& path) {
  using G = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
  G g(nodes.size());
  out_links_.assign(nodes.size(), {});
  for (size_t i = 0; i < links.size(); ++i) {
    boost::add_edge(static_cast<size_t>(links[i].from), static_cast<size_t>(links[i].to), g);
    out_links_[static_cast<size_t>(links[i].from)].push_back(static_cast<int>(i));
  }
  const auto kind = [&](int e) { return shape.is_cpu(e) ? "CPU" : "device"; };
  std::vector<int> attached;
  for (int e = 0; e < endpoints(); ++e) {
    if (!has_endpoint(e)) continue;
    attached.push_back(e);
    if (out_links_[static_cast<size_t>(device_node(e))].empty())
      throw ConfigError(config_error_text(
          at, path, fmt::format("no route from {} {} ({}) to any other: it has no link in plane "
                                "'{}'; every {} must be connected (valid: add a link from '{}' to a "
                                "switch or device)",
                                kind(e), e, shape.name(e), name, kind(e), nodes[static_cast<size_t>(device_node(e))].name)));
  }
  // Hops from every node to each endpoint: BFS from the endpoint on the reversed graph.
  dist_to_device_.assign(device_nodes_.size(), {});
  const auto reversed = boost::make_reverse_graph(g);
  for (int d : attached) {
    std::vector<int> dist(nodes.size(), std::numeric_limits<int>::max());
    dist[static_cast<size_t>(device_node(d))] = 0;
    boost::breadth_first_search(
        reversed, static_cast<size_t>(device_node(d)),
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, reversed)),
            boost::on_tree_edge()))));
    for (int s : attached) {
      if (!must_connect(s, d) || dist[static_cast<size_t>(device_node(s))] != std::numeric_limits<int>::max())
        continue;
      if (scope == "system")
        throw ConfigError(config_error_text(
            at, path, fmt::format("no route from {} {} ({}) to {} {} ({}) in plane '{}'; every "
                                  "device must reach every other (scope: system)",
                                  kind(s), s, shape.name(s), kind(d), d, shape.name(d), name)));
      throw ConfigError(config_error_text(
          at, path, fmt::format("no route between members {} and {} of node {} in plane '{}' "
                                "(scope: node); every endpoint of a node must reach every other "
                                "endpoint of the same node",
                                shape.name(s), shape.name(d), shape.node_of(d), name)));
    }
    dist_to_device_[static_cast<size_t>(d)] = std::move(dist);
  }
}

std::vector<int> Plane::follow(int at, int dst, size_t salt, std::vector<int> path) const {
  const auto& dist = dist_to_device_.at(static_cast<size_t>(dst));
  while (dist[static_cast<size_t>(at)] > 0) {
    // Equal-cost next hops, counted, then the (salt mod count)-th taken: no allocation.
    const int want = dist[static_cast<size_t>(at)] - 1;
    const auto& out = out_links_[static_cast<size_t>(at)];
    size_t count = 0;
    for (int l : out) count += dist[static_cast<size_t>(links[static_cast<size_t>(l)].to)] == want;
    size_t pick = salt % count;
    int chosen = -1;
    for (int l : out)
      if (dist[static_cast<size_t>(links[static_cast<size_t>(l)].to)] == want && pick-- == 0) {
        chosen = l;
        break;
      }
    path.push_back(chosen);
    at = links[static_cast<size_t>(chosen)].to;
  }
  return path;
}

std::vector<int> Plane::route(int src, int dst) const {
  if (!connects(src, dst))
    throw std::out_of_range(fmt::format("no route from {} to {} on plane '{}'", shape.name(src), shape.name(dst), name));
  const size_t salt = std::hash<long>()(static_cast<long>(src) * 1000003L + dst);
  return follow(device_node(src), dst, salt, {});
}

std::vector<std::vector<int>> Plane::routes(int src, int dst) const {
  if (!connects(src, dst))
    throw std::out_of_range(fmt::format("no route from {} to {} on plane '{}'", shape.name(src), shape.name(dst), name));
  const size_t salt = std::hash<long>()(static_cast<long>(src) * 1000003L + dst);
  const int at = device_node(src);
  const auto& dist = dist_to_device_[static_cast<size_t>(dst)];
  if (dist[static_cast<size_t>(at)] == 0) return {{}};
  std::vector<std::vector<int>> out;
  for (int l : out_links_[static_cast<size_t>(at)])
    if (dist[static_cast<size_t>(links[static_cast<size_t>(l)].to)] == dist[static_cast<size_t>(at)] - 1)
      out.push_back(follow(links[static_cast<size_t>(l)].to, dst, salt, {l}));
  return out;
}

double Plane::path_latency(const std::vector<int>& path) const {
  double t = 0;
  for (int l : path) t += links[static_cast<size_t>(l)].latency;
  return t;
}

namespace {

std::vector<long> int_list(const Section& s, const std::string& key) {
  const YAML::Node n = s.node(key);
  if (!n || !n.IsSequence() || n.size() == 0) s.fail(key, "expected a non-empty list of integers");
  std::vector<long> out;
  for (const auto& v : n) {
    long x = 0;
    try {
      x = v.as<long>();
    } catch (const YAML::Exception&) {
      s.fail(key, "expected integers");
    }
    if (x < 1) s.fail(key, "sizes must be >= 1");
    out.push_back(x);
  }
  return out;
}

/// One endpoint of a topology instance: its endpoint index, its name inside the instance
/// (the node prefix is added to every node of the instance) and the bandwidth of its links.
struct Member {
  int endpoint = 0;
  std::string name;
  double bandwidth = 0;
};

/// One copy of a topology: its endpoints (in order) and the prefix of its node names.
struct Instance {
  std::vector<Member> members;
  std::string prefix;
};

/// Adds the instance's endpoints as nodes; returns their node indices in member order.
std::vector<int> add_members(Plane& p, const Instance& in) {
  std::vector<int> ids;
  for (const auto& m : in.members) ids.push_back(p.add_node(in.prefix + m.name, m.endpoint));
  return ids;
}

double pair_bandwidth(const Member& a, const Member& b) { return std::min(a.bandwidth, b.bandwidth); }

void build_switch(Plane& p, const Instance& in, double lat) {
  const int sw = p.add_node(in.prefix + "switch", -1);
  for (const auto& m : in.members) p.connect(p.add_node(in.prefix + m.name, m.endpoint), sw, m.bandwidth, lat);
}

void build_ring(Plane& p, const Instance& in, double lat) {
  const auto ids = add_members(p, in);
  const size_t n = ids.size();
  for (size_t i = 0; i < n && n > 1; ++i)
    if (n > 2 || i == 0) p.connect(ids[i], ids[(i + 1) % n], pair_bandwidth(in.members[i], in.members[(i + 1) % n]), lat);
}

void build_full_mesh(Plane& p, const Instance& in, double lat) {
  const auto ids = add_members(p, in);
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = i + 1; j < ids.size(); ++j) p.connect(ids[i], ids[j], pair_bandwidth(in.members[i], in.members[j]), lat);
}

void build_torus(const Section& s, Plane& p, const Instance& in, double lat) {
  const auto dims = int_list(s, "dims");
  const long n = static_cast<long>(in.members.size());
  long product = 1;
  for (long d : dims) product *= d;
  if (product != n)
    s.fail("dims", fmt::format("the product of dims is {} but the plane joins {} endpoints{}", product, n,
                               p.scope == "node" ? " per node" : ""));
  const auto ids = add_members(p, in);
  long stride = 1;
  for (long size : dims) {
    for (long i = 0; i < n; ++i) {
      const long coord = (i / stride) % size;
      if (size == 1 || (size == 2 && coord == 1)) continue;  // no self links or duplicate pair
      const long next = i + (((coord + 1) % size) - coord) * stride;
      p.connect(ids[static_cast<size_t>(i)], ids[static_cast<size_t>(next)],
                pair_bandwidth(in.members[static_cast<size_t>(i)], in.members[static_cast<size_t>(next)]), lat);
    }
    stride *= size;
  }
}

/// Two-tier Clos. Endpoints are cut into leaf groups of `leaf_size`; each group has `rails`
/// leaf switches and every endpoint one link to each. Spines come in `rails` sets of `spines`;
/// the rail-k leaf of every group has one uplink to each spine of set k. Uplink bandwidth:
///   uplink_bandwidth, or  (sum of a full group's endpoint link bandwidths) / (spines x oversubscription)
void build_fat_tree(const Section& s, Plane& p, const Instance& in, int members_per_node, double lat) {
  const long leaf_size = s.integer("leaf_size");
  const long spines = s.integer("spines");
  const long rails = s.integer("rails");
  const double over = s.real("oversubscription");
  const long n = static_cast<long>(in.members.size());
  const auto ids = add_members(p, in);
  const long leaves = (n + leaf_size - 1) / leaf_size;
  std::vector<std::vector<int>> spine_ids(static_cast<size_t>(rails));
  for (long k = 0; k < rails; ++k)
    for (long j = 0; j < spines; ++j)
      spine_ids[static_cast<size_t>(k)].push_back(p.add_node(
          in.prefix + (rails == 1 ? fmt::format("spine{}", j) : fmt::format("r{}.spine{}", k, j)), -1));
  double group_down = 0;
  const long first = std::min(leaf_size, n);
  for (long i = 0; i < first; ++i) group_down += in.members[static_cast<size_t>(i)].bandwidth;
  group_down *= static_cast<double>(leaf_size) / static_cast<double>(first);
  const double uplink = s.has("uplink_bandwidth") ? s.quantity("uplink_bandwidth")
                                                  : group_down / (static_cast<double>(spines) * over);
  // A leaf group that is exactly one node's endpoints is named after the node: n3.leaf (.r2).
  const bool per_node = in.prefix.empty() && p.shape.nodes() > 1 && leaf_size == members_per_node;
  // Links of rail k of a leaf group are added in the same order as rail 0's: record the twins.
  p.rail_twin.resize(p.links.size(), -1);
  for (long l = 0; l < leaves; ++l) {
    size_t rail0_start = p.links.size();
    for (long k = 0; k < rails; ++k) {
      const size_t start = p.links.size();
      if (k == 0) rail0_start = start;
      const std::string group = per_node ? fmt::format("n{}.leaf", l) : fmt::format("leaf{}", l);
      const int leaf = p.add_node(in.prefix + group + (rails == 1 ? "" : fmt::format(".r{}", k)), -1);
      for (long i = l * leaf_size; i < std::min<long>((l + 1) * leaf_size, n); ++i)
        p.connect(ids[static_cast<size_t>(i)], leaf, in.members[static_cast<size_t>(i)].bandwidth, lat);
      if (leaves > 1)
        for (int spine : spine_ids[static_cast<size_t>(k)]) p.connect(leaf, spine, uplink, lat);
      for (size_t x = start; x < p.links.size(); ++x)
        p.rail_twin.push_back(static_cast<int>(rail0_start + (x - start)));
    }
  }
  p.spread = rails > 1;
  p.rails = static_cast<int>(rails);
}

void build_graph(const Section& s, Plane& p, const Instance& in, double bw, double lat) {
  std::map<std::string, int> ids;
  std::map<int, double> endpoint_bw;  // node -> its link bandwidth
  for (const auto& m : in.members) {
    const int id = p.add_node(in.prefix + m.name, m.endpoint);
    ids[m.name] = id;
    endpoint_bw[id] = m.bandwidth;
  }
  // In a multi-node system plane a device may also be named by its global index: d29.
  for (const auto& m : in.members)
    if (p.scope == "system" && !p.shape.is_cpu(m.endpoint))
      ids.emplace(fmt::format("d{}", m.endpoint), ids[m.name]);
  if (s.has("switches")) {
    for (const auto& n : s.node("switches")) {
      const std::string name = n.as<std::string>();
      if (ids.count(name)) s.fail("switches", fmt::format("duplicate node '{}'", name));
      ids[name] = p.add_node(in.prefix + name, -1);
    }
  }
  if (!s.has("links") || !s.node("links").IsSequence()) s.fail("links", "graph topology needs a list of links");
  const YAML::Node links = s.node("links");
  for (size_t i = 0; i < links.size(); ++i) {
    const YAML::Node l = links[i];
    const std::string at = fmt::format("{}[{}]", s.path_of("links"), i);
    std::string a, b;
    double lbw = 0, llat = lat;
    if (l.IsSequence() && l.size() == 2) {
      a = l[0].as<std::string>();
      b = l[1].as<std::string>();
    } else if (l.IsMap() && l["a"] && l["b"]) {
      a = l["a"].as<std::string>();
      b = l["b"].as<std::string>();
      try {
        if (l["bandwidth"]) lbw = parse_quantity_as(l["bandwidth"].as<std::string>(), Dim::Bandwidth);
        if (l["latency"]) llat = parse_quantity_as(l["latency"].as<std::string>(), Dim::Time);
      } catch (const std::invalid_argument& e) {
        throw ConfigError(config_error_text(l, at, e.what()));
      }
      if (l["bandwidth"] && !(lbw > 0)) throw ConfigError(config_error_text(l, at, "bandwidth must be positive"));
    } else {
      throw ConfigError(config_error_text(l, at, "expected [a, b] or {a: .., b: .., bandwidth: .., latency: ..}"));
    }
    for (const auto& end : {a, b}) {
      if (!ids.count(end)) {
        std::string known;
        for (const auto& [k, v] : ids) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError(config_error_text(l, at, fmt::format("link references unknown node '{}'; known nodes: {}", end, known)));
      }
    }
    if (lbw <= 0) {  // default: link_bandwidth, or a CPU's own link bandwidth if it ends at one
      lbw = bw;
      for (const auto& end : {a, b})
        if (endpoint_bw.count(ids[end])) lbw = std::min(lbw, endpoint_bw[ids[end]]);
    }
    p.connect(ids[a], ids[b], lbw, llat);
  }
}

std::vector<std::string> read_traffic(const Section& s) {
  static const std::vector<std::string> classes = {"collective", "tensor", "expert", "data",
                                                   "pipeline", "kv", "storage", "management"};
  std::vector<std::string> out;
  if (!s.has("traffic")) return out;
  const YAML::Node t = s.node("traffic");
  if (!t.IsSequence()) s.fail("traffic", "expected a list of traffic classes");
  for (const auto& c : t) {
    const std::string cls = c.as<std::string>();
    if (std::find(classes.begin(), classes.end(), cls) == classes.end())
      s.fail("traffic", fmt::format("unknown traffic class '{}'; valid: collective, tensor, expert, "
                                    "data, pipeline, kv, storage, management", cls));
    out.push_back(cls);
  }
  return out;
}

double read_efficiency_key(const Section& s, const std::string& key, double fallback) {
  if (!s.has(key)) return fallback;
  const double e = s.real(key);
  if (e > 1) s.fail(key, "an efficiency cannot exceed 1");
  return e;
}

}  // namespace

Plane build_plane(const Section& s, const std::string& name, const SystemShape& shape) {
  Plane p;
  p.name = name;
  p.shape = shape;
  p.topology = s.string("topology");
  p.scope = s.string("scope");
  p.cpus = s.boolean("cpus");
  p.efficiency = s.real("efficiency");
  if (p.efficiency > 1) s.fail("efficiency", "an efficiency cannot exceed 1");
  p.read_efficiency = read_efficiency_key(s, "read_efficiency", p.efficiency);
  p.write_efficiency = read_efficiency_key(s, "write_efficiency", p.efficiency);
  p.access_latency = s.quantity("access_latency");
  p.cpu_access_latency = s.has("cpu_access_latency") ? s.quantity("cpu_access_latency") : p.access_latency;
  p.write_latency = s.quantity("write_latency");
  if (p.cpus && shape.cpus_per_node == 0)
    s.fail("cpus", "the system has no CPUs (system.cpus_per_node is 0); set cpus_per_node or remove this key");
  const double bw = s.quantity("link_bandwidth");
  const double cpu_bw = s.has("cpu_link_bandwidth") ? s.quantity("cpu_link_bandwidth") : bw;
  const double lat = s.quantity("link_latency");
  p.traffic = read_traffic(s);
  // Instances: one over every endpoint (node by node: its devices, then its CPUs), or one per node.
  const bool per_node = p.scope == "node";
  std::vector<Instance> instances;
  for (int k = 0; k < shape.nodes(); ++k) {
    if (per_node || instances.empty()) {
      instances.push_back({});
      if (per_node && shape.nodes() > 1) instances.back().prefix = fmt::format("n{}.", k);
    }
    auto& members = instances.back().members;
    std::vector<int> eps;
    for (int i = 0; i < shape.devices_per_node; ++i) eps.push_back(k * shape.devices_per_node + i);
    for (int j = 0; p.cpus && j < shape.cpus_per_node; ++j) eps.push_back(shape.cpu_endpoint(k, j));
    for (int e : eps)
      members.push_back({e, per_node ? shape.local_name(e) : shape.name(e), shape.is_cpu(e) ? cpu_bw : bw});
  }
  const int members_per_node = shape.devices_per_node + (p.cpus ? shape.cpus_per_node : 0);
  for (const auto& in : instances) {
    if (p.topology == "switch") build_switch(p, in, lat);
    else if (p.topology == "ring") build_ring(p, in, lat);
    else if (p.topology == "full_mesh") build_full_mesh(p, in, lat);
    else if (p.topology == "torus") build_torus(s, p, in, lat);
    else if (p.topology == "fat_tree") build_fat_tree(s, p, in, members_per_node, lat);
    else build_graph(s, p, in, bw, lat);
  }
  // Rail folding needs every link to have a twin (a fat tree and nothing else on the plane).
  if (p.rails > 1 && (p.rail_twin.size() != p.links.size() ||
                      std::count(p.rail_twin.begin(), p.rail_twin.end(), -1) > 0))
    p.rail_twin.clear();
  if (p.rails > 1 && !s.boolean("fold_rails")) p.rail_twin.clear();
  p.finalize(s.yaml(), s.path());
  return p;
}

}  // namespace orrery
