#include <catch2/catch.hpp>

#include "hw/network/network_module.h"

using namespace orrery;

TEST_CASE("two_flows_on_one_link_each_get_half", "[network]") {
  const auto r = max_min_rates({{0}, {0}}, {100});
  CHECK(r[0] == Approx(50));
  CHECK(r[1] == Approx(50));
}

TEST_CASE("incast_onto_one_port_splits_it_evenly", "[network]") {
  // Three senders, each on its own uplink (links 0-2), into one receiver port (link 3).
  const auto r = max_min_rates({{0, 3}, {1, 3}, {2, 3}}, {100, 100, 100, 90});
  for (double x : r) CHECK(x == Approx(30));
}

TEST_CASE("a_flow_limited_elsewhere_leaves_its_share_to_the_others", "[network]") {
  // Flow 0 crosses a slow link 1 (10) and the shared link 0 (100); flow 1 only link 0.
  const auto r = max_min_rates({{0, 1}, {0}}, {100, 10});
  CHECK(r[0] == Approx(10));
  CHECK(r[1] == Approx(90));
}
