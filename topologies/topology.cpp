#include "topologies/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"

namespace orrery {

const ParamTable& plane_params() {
  static const ParamTable t{
      "plane",
      "A network plane: a topology of links joining the devices (and switches).",
      {
          {"topology", ParamType::Enum, Dim::Dimensionless, "", "switch: every device has one link to one non-blocking switch; ring; full_mesh; torus (dims); fat_tree: two-tier Clos of leaves and spines; graph: explicit switches and links", {"switch", "ring", "full_mesh", "torus", "fat_tree", "graph"}},
          {"link_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth of one link, per direction"},
          {"link_latency", ParamType::Quantity, Dim::Time, "1 us", "latency of one hop", {}, false, 0, true},
          {"efficiency", ParamType::Real, Dim::Dimensionless, "1", "achievable fraction of link bandwidth after protocol overheads"},
          {"traffic", ParamType::Any, Dim::Dimensionless, "", "traffic classes this plane carries (collective, tensor, expert, data, kv)", {}, true},
          {"dims", ParamType::Any, Dim::Dimensionless, "", "torus: sizes of each dimension, e.g. [4, 4]; their product is the device count", {}, true},
          {"leaf_size", ParamType::Integer, Dim::Dimensionless, "8", "fat_tree: devices per leaf switch"},
          {"spines", ParamType::Integer, Dim::Dimensionless, "4", "fat_tree: spine switches; every leaf has one uplink to each"},
          {"oversubscription", ParamType::Real, Dim::Dimensionless, "1", "fat_tree: leaf downlink bandwidth / uplink bandwidth"},
          {"switches", ParamType::Any, Dim::Dimensionless, "", "graph: names of switch nodes (devices are d0, d1, ...)", {}, true},
          {"links", ParamType::Any, Dim::Dimensionless, "", "graph: list of [a, b] or {a, b, bandwidth, latency} cables", {}, true},
      }};
  return t;
}

int Plane::add_node(const std::string& node_name, int device) {
  nodes.push_back({node_name, device});
  const int id = static_cast<int>(nodes.size()) - 1;
  if (device >= 0) {
    if (static_cast<int>(device_nodes_.size()) <= device) device_nodes_.resize(static_cast<size_t>(device) + 1, -1);
    device_nodes_[static_cast<size_t>(device)] = id;
  }
  return id;
}

void Plane::connect(int a, int b, double bandwidth, double latency) {
  links.push_back({a, b, bandwidth, latency});
  links.push_back({b, a, bandwidth, latency});
}

void Plane::finalize(const YAML::Node& at, const std::string& path) {
  using G = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
  G g(nodes.size());
  out_links_.assign(nodes.size(), {});
  for (size_t i = 0; i < links.size(); ++i) {
    boost::add_edge(static_cast<size_t>(links[i].from), static_cast<size_t>(links[i].to), g);
    out_links_[static_cast<size_t>(links[i].from)].push_back(static_cast<int>(i));
  }
  // Hops from every node to each device: BFS from the device on the reversed graph.
  dist_to_device_.assign(device_nodes_.size(), {});
  const auto reversed = boost::make_reverse_graph(g);
  for (size_t d = 0; d < device_nodes_.size(); ++d) {
    std::vector<int> dist(nodes.size(), std::numeric_limits<int>::max());
    dist[static_cast<size_t>(device_nodes_[d])] = 0;
    boost::breadth_first_search(
        reversed, static_cast<size_t>(device_nodes_[d]),
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, reversed)),
            boost::on_tree_edge()))));
    for (size_t s = 0; s < device_nodes_.size(); ++s) {
      if (dist[static_cast<size_t>(device_nodes_[s])] == std::numeric_limits<int>::max())
        throw ConfigError(config_error_text(
            at, path, fmt::format("no route from device {} to device {} in plane '{}'; every "
                                  "device must reach every other", s, d, name)));
    }
    dist_to_device_[d] = std::move(dist);
  }
}

std::vector<int> Plane::route(int src, int dst) const {
  std::vector<int> path;
  int at = device_node(src);
  const auto& dist = dist_to_device_.at(static_cast<size_t>(dst));
  const size_t salt = std::hash<long>()(static_cast<long>(src) * 1000003L + dst);
  while (dist[static_cast<size_t>(at)] > 0) {
    std::vector<int> next;
    for (int l : out_links_[static_cast<size_t>(at)])
      if (dist[static_cast<size_t>(links[static_cast<size_t>(l)].to)] == dist[static_cast<size_t>(at)] - 1)
        next.push_back(l);
    const int chosen = next[salt % next.size()];
    path.push_back(chosen);
    at = links[static_cast<size_t>(chosen)].to;
  }
  return path;
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

void build_torus(const Section& s, Plane& p, int devices, double bw, double lat) {
  const auto dims = int_list(s, "dims");
  long product = 1;
  for (long d : dims) product *= d;
  if (product != devices)
    s.fail("dims", fmt::format("the product of dims is {} but the system has {} devices", product, devices));
  for (int i = 0; i < devices; ++i) p.add_node(fmt::format("d{}", i), i);
  long stride = 1;
  for (long size : dims) {
    for (int i = 0; i < devices; ++i) {
      const long coord = (i / stride) % size;
      if (size == 1 || (size == 2 && coord == 1)) continue;  // no self links or duplicate pair
      const long next = i + (((coord + 1) % size) - coord) * stride;
      p.connect(i, static_cast<int>(next), bw, lat);
    }
    stride *= size;
  }
}

void build_fat_tree(const Section& s, Plane& p, int devices, double bw, double lat) {
  const long leaf_size = s.integer("leaf_size");
  const long spines = s.integer("spines");
  const double over = s.real("oversubscription");
  for (int i = 0; i < devices; ++i) p.add_node(fmt::format("d{}", i), i);
  const long leaves = (devices + leaf_size - 1) / leaf_size;
  std::vector<int> spine_ids;
  for (long k = 0; k < spines; ++k) spine_ids.push_back(p.add_node(fmt::format("spine{}", k), -1));
  // Each leaf's uplinks carry its downlink bandwidth divided by the oversubscription ratio.
  const double uplink = static_cast<double>(leaf_size) * bw / (static_cast<double>(spines) * over);
  for (long l = 0; l < leaves; ++l) {
    const int leaf = p.add_node(fmt::format("leaf{}", l), -1);
    for (long i = l * leaf_size; i < std::min<long>((l + 1) * leaf_size, devices); ++i)
      p.connect(static_cast<int>(i), leaf, bw, lat);
    if (leaves > 1)
      for (int spine : spine_ids) p.connect(leaf, spine, uplink, lat);
  }
}

void build_graph(const Section& s, Plane& p, int devices, double bw, double lat) {
  std::map<std::string, int> ids;
  for (int i = 0; i < devices; ++i) ids[fmt::format("d{}", i)] = p.add_node(fmt::format("d{}", i), i);
  if (s.has("switches")) {
    for (const auto& n : s.node("switches")) {
      const std::string name = n.as<std::string>();
      if (ids.count(name)) s.fail("switches", fmt::format("duplicate node '{}'", name));
      ids[name] = p.add_node(name, -1);
    }
  }
  if (!s.has("links") || !s.node("links").IsSequence()) s.fail("links", "graph topology needs a list of links");
  const YAML::Node links = s.node("links");
  for (size_t i = 0; i < links.size(); ++i) {
    const YAML::Node l = links[i];
    const std::string at = fmt::format("{}[{}]", s.path_of("links"), i);
    std::string a, b;
    double lbw = bw, llat = lat;
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
      if (!(lbw > 0)) throw ConfigError(config_error_text(l, at, "bandwidth must be positive"));
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
    p.connect(ids[a], ids[b], lbw, llat);
  }
}

}  // namespace

Plane build_plane(const Section& s, const std::string& name, int devices) {
  Plane p;
  p.name = name;
  p.topology = s.string("topology");
  p.efficiency = s.real("efficiency");
  if (p.efficiency > 1) s.fail("efficiency", "an efficiency cannot exceed 1");
  const double bw = s.quantity("link_bandwidth");
  const double lat = s.quantity("link_latency");
  if (s.has("traffic")) {
    static const std::vector<std::string> classes = {"collective", "tensor", "expert", "data", "pipeline", "kv"};
    const YAML::Node t = s.node("traffic");
    if (!t.IsSequence()) s.fail("traffic", "expected a list of traffic classes");
    for (const auto& c : t) {
      const std::string cls = c.as<std::string>();
      if (std::find(classes.begin(), classes.end(), cls) == classes.end())
        s.fail("traffic", fmt::format("unknown traffic class '{}'; valid: collective, tensor, expert, data, pipeline, kv", cls));
      p.traffic.push_back(cls);
    }
  }
  if (p.topology == "switch") {
    const int sw = p.add_node("switch", -1);
    for (int i = 0; i < devices; ++i) p.connect(p.add_node(fmt::format("d{}", i), i), sw, bw, lat);
  } else if (p.topology == "ring") {
    for (int i = 0; i < devices; ++i) p.add_node(fmt::format("d{}", i), i);
    for (int i = 0; i < devices && devices > 1; ++i)
      if (devices > 2 || i == 0) p.connect(i, (i + 1) % devices, bw, lat);
  } else if (p.topology == "full_mesh") {
    for (int i = 0; i < devices; ++i) p.add_node(fmt::format("d{}", i), i);
    for (int i = 0; i < devices; ++i)
      for (int j = i + 1; j < devices; ++j) p.connect(i, j, bw, lat);
  } else if (p.topology == "torus") {
    build_torus(s, p, devices, bw, lat);
  } else if (p.topology == "fat_tree") {
    build_fat_tree(s, p, devices, bw, lat);
  } else {
    build_graph(s, p, devices, bw, lat);
  }
  p.finalize(s.yaml(), s.path());
  return p;
}

}  // namespace orrery
