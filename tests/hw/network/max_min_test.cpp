#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

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

TEST_CASE("the_fast_solver_gives_exactly_the_reference_rates_on_random_instances", "[network]") {
  // Progressive filling with an indexed heap must pick the same bottlenecks in the same order
  // as the textbook O(L·F) loop and do the same arithmetic: equal to the last bit. Integer
  // capacities make ties between links (and the lowest-index tie-break) frequent.
  std::mt19937 rng(20240611);
  const auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int instances = 0, differing = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const int links = uniform(1, 12), flows = uniform(1, 30);
    std::vector<double> capacity;
    for (int l = 0; l < links; ++l)
      capacity.push_back(trial % 2 ? uniform(1, 8) * 10.0 : uniform(1, 1000) / 7.0);
    std::vector<std::vector<int>> paths;
    for (int f = 0; f < flows; ++f) {
      std::vector<int> all(static_cast<size_t>(links));
      for (int l = 0; l < links; ++l) all[static_cast<size_t>(l)] = l;
      std::shuffle(all.begin(), all.end(), rng);
      all.resize(static_cast<size_t>(uniform(f % 13 == 0 ? 0 : 1, std::min(links, 4))));
      paths.push_back(all);
    }
    const auto fast = max_min_rates(paths, capacity);
    const auto ref = max_min_rates_reference(paths, capacity);
    REQUIRE(fast.size() == ref.size());
    ++instances;
    for (size_t f = 0; f < fast.size(); ++f)
      if (!(fast[f] == ref[f])) ++differing;
  }
  CHECK(instances == 2000);
  CHECK(differing == 0);
}

TEST_CASE("a_flow_that_crosses_no_link_is_not_limited", "[network]") {
  const auto r = max_min_rates({{}, {0}}, {100});
  CHECK(std::isinf(r[0]));
  CHECK(r[1] == Approx(100));
}
