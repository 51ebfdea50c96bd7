#include "tests/support/star_plane.h"

#include <yaml-cpp/yaml.h>

#include <string>

namespace orrery::test {

Plane star(int n, double bandwidth, double latency) {
  Plane p;
  p.name = "star";
  p.topology = "switch";
  p.shape = SystemShape{n, n, 0};
  const int sw = p.add_node("switch");
  for (int i = 0; i < n; ++i) p.connect(p.add_node("d" + std::to_string(i), EndpointId{i}), sw, bandwidth, latency);
  p.finalize(YAML::Node(), "test");
  return p;
}

}  // namespace orrery::test
