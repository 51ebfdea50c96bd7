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
    const YAML::Node sw = s.node("switches");
    if (!sw.IsSequence()) s.fail("switches", "expected a list of switch names");
    for (const auto& n : sw) {
      if (!n.IsScalar()) s.fail("switches", "a switch name must be a plain name, not a list or mapping");
      const std::string name = n.Scalar();
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

const ParamTable& graph_link_params() {
  static const ParamTable t{
      "graph link",
      "One cable of a graph plane written as a mapping (or as [a, b] with the plane's defaults).",
      {
          {"a", ParamType::String, Dim::Dimensionless, "", "one end: an endpoint or switch name"},
          {"b", ParamType::String, Dim::Dimensionless, "", "the other end"},
          {"bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth per direction (default: the plane's link_bandwidth)", {}, true},
          {"latency", ParamType::Quantity, Dim::Time, "", "latency of this cable (default: the plane's link_latency)", {}, true, 0, true},
      }};
  return t;
}

GraphLink read_link(const YAML::Node& l, const std::string& at, double default_latency) {
  GraphLink out;
  out.latency = default_latency;
  if (l.IsSequence() && l.size() == 2 && l[0].IsScalar() && l[1].IsScalar()) {
    out.a = l[0].Scalar();
    out.b = l[1].Scalar();
  } else if (l.IsMap()) {
    const Section s(l, at, graph_link_params());  // misspelt keys (bandwith:) are rejected
    out.a = s.string("a");
    out.b = s.string("b");
    if (s.has("bandwidth")) out.bandwidth = s.quantity("bandwidth");
    if (s.has("latency")) out.latency = s.quantity("latency");
  } else {
    throw ConfigError(config_error_text(l, at, "expected [a, b] or {a: .., b: .., bandwidth: .., latency: ..}"));
  }
  if (out.a == out.b) throw ConfigError(config_error_text(l, at, fmt::format("a link from '{}' to itself", out.a)));
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
