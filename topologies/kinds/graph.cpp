// graph: explicit switches and cables, each [a, b] or {a, b, bandwidth, latency}.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "sim/config/errors.h"
#include "topologies/topology_registry.h"

namespace orrery {

namespace {

/// The graph's node names -> node indices, and the link bandwidth of each endpoint node.
struct GraphNodes {
  std::map<std::string, int> ids;
  std::map<int, double> endpoint_bw;
};

GraphNodes add_graph_nodes(const Section& s, Plane& p, const Instance& in) {
  GraphNodes g;
  for (const auto& m : in.members) {
    const int id = p.add_node(in.prefix + m.name, m.endpoint);
    g.ids[m.name] = id;
    g.endpoint_bw[id] = m.bandwidth;
  }
  // In a multi-node system plane a device may also be named by its global index: d29.
  for (const auto& m : in.members)
    if (p.scope == "system" && !p.shape.is_cpu(m.endpoint.value))
      g.ids.emplace(fmt::format("d{}", m.endpoint.value), g.ids[m.name]);
  if (s.has("switches")) {
    for (const auto& n : s.node("switches")) {
      const std::string name = n.as<std::string>();
      if (g.ids.count(name)) s.fail("switches", fmt::format("duplicate node '{}'", name));
      g.ids[name] = p.add_node(in.prefix + name);
    }
  }
  return g;
}

/// One entry of `links`: its two ends and its bandwidth (0: the default) and latency.
struct GraphLink {
  std::string a, b;
  double bandwidth = 0, latency = 0;
};

GraphLink read_link(const YAML::Node& l, const std::string& at, double default_latency) {
  GraphLink out;
  out.latency = default_latency;
  if (l.IsSequence() && l.size() == 2) {
    out.a = l[0].as<std::string>();
    out.b = l[1].as<std::string>();
  } else if (l.IsMap() && l["a"] && l["b"]) {
    out.a = l["a"].as<std::string>();
    out.b = l["b"].as<std::string>();
    try {
      if (l["bandwidth"]) out.bandwidth = parse_quantity_as(l["bandwidth"].as<std::string>(), Dim::Bandwidth);
      if (l["latency"]) out.latency = parse_quantity_as(l["latency"].as<std::string>(), Dim::Time);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(config_error_text(l, at, e.what()));
    }
    if (l["bandwidth"] && !(out.bandwidth > 0)) throw ConfigError(config_error_text(l, at, "bandwidth must be positive"));
  } else {
    throw ConfigError(config_error_text(l, at, "expected [a, b] or {a: .., b: .., bandwidth: .., latency: ..}"));
  }
  return out;
}

void build_graph(const TopologyContext& c, Plane& p, const Instance& in) {
  const Section& s = c.section;
  GraphNodes g = add_graph_nodes(s, p, in);
  if (!s.has("links") || !s.node("links").IsSequence()) s.fail("links", "graph topology needs a list of links");
  const YAML::Node links = s.node("links");
  for (size_t i = 0; i < links.size(); ++i) {
    const YAML::Node l = links[i];
    const std::string at = fmt::format("{}[{}]", s.path_of("links"), i);
    GraphLink gl = read_link(l, at, c.link_latency);
    for (const auto& end : {gl.a, gl.b}) {
      if (!g.ids.count(end)) {
        std::string known;
        for (const auto& [k, v] : g.ids) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError(config_error_text(l, at, fmt::format("link references unknown node '{}'; known nodes: {}", end, known)));
      }
    }
    if (gl.bandwidth <= 0) {  // default: link_bandwidth, or a CPU's own link bandwidth if it ends at one
      gl.bandwidth = c.link_bandwidth;
      for (const auto& end : {gl.a, gl.b})
        if (g.endpoint_bw.count(g.ids[end])) gl.bandwidth = std::min(gl.bandwidth, g.endpoint_bw[g.ids[end]]);
    }
    p.connect(g.ids[gl.a], g.ids[gl.b], gl.bandwidth, gl.latency);
  }
}

}  // namespace

TopologyKind graph_topology() {
  return {"graph",
          "graph: explicit switches and links",
          {
              {"switches", ParamType::Any, Dim::Dimensionless, "", "graph: names of switch nodes (endpoints are d0, d1, ..., cpu0, ...; n3.d5 in a multi-node system plane)", {}, true},
              {"links", ParamType::Any, Dim::Dimensionless, "", "graph: list of [a, b] or {a, b, bandwidth, latency} cables", {}, true},
          },
          build_graph};
}

}  // namespace orrery
