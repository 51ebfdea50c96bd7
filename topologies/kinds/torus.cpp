// torus: endpoints on a grid of `dims`, each cabled to its successor in every dimension
// (wrapping around).
#include <fmt/format.h>

#include "topologies/topology_registry.h"

namespace orrery {

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

void build_torus(const TopologyContext& c, Plane& p, const Instance& in) {
  const Section& s = c.section;
  const auto dims = int_list(s, "dims");
  const long n = static_cast<long>(in.members.size());
  double product = 1;  // in floating point: huge dims must not wrap around to n
  for (long d : dims) product *= static_cast<double>(d);
  if (product != static_cast<double>(n))
    s.fail("dims", fmt::format("the product of dims is {:.15g} but the plane joins {} endpoints{}", product, n,
                               p.scope == "node" ? " per node" : ""));
  const auto ids = add_members(p, in);
  long stride = 1;
  for (long size : dims) {
    for (long i = 0; i < n; ++i) {
      const long coord = (i / stride) % size;
      if (size == 1 || (size == 2 && coord == 1)) continue;  // no self links or duplicate pair
      const long next = i + (((coord + 1) % size) - coord) * stride;
      p.connect(ids[static_cast<size_t>(i)], ids[static_cast<size_t>(next)],
                pair_bandwidth(in.members[static_cast<size_t>(i)], in.members[static_cast<size_t>(next)]),
                c.link_latency);
    }
    stride *= size;
  }
}

}  // namespace

TopologyKind torus_topology() {
  return {"torus",
          "torus (dims)",
          {
              {"dims", ParamType::Any, Dim::Dimensionless, "", "torus: sizes of each dimension, e.g. [4, 4]; their product is the endpoint count (per node for scope node)", {}, true},
          },
          build_torus};
}

}  // namespace orrery
