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

namespace {

/// Rates are feasible and max-min fair: no link carries more than its capacity, and every flow
/// that crosses a link has a bottleneck among its links, saturated and on which no other flow
/// gets more. (Catches a solver that over-allocates a link, or one that leaves capacity unused
/// that a flow could take without lowering a smaller rate; a flow that crosses no link is
/// unlimited.)
void check_max_min(const std::vector<std::vector<int>>& paths, const std::vector<double>& capacity,
                   const std::vector<double>& rate) {
  REQUIRE(rate.size() == paths.size());
  std::vector<double> load(capacity.size(), 0), top(capacity.size(), 0);
  for (size_t f = 0; f < paths.size(); ++f)
    for (int l : paths[f]) {
      load[static_cast<size_t>(l)] += rate[f];
      top[static_cast<size_t>(l)] = std::max(top[static_cast<size_t>(l)], rate[f]);
    }
  for (size_t l = 0; l < capacity.size(); ++l) CHECK(load[l] <= capacity[l] * (1 + 1e-9));
  for (size_t f = 0; f < paths.size(); ++f) {
    if (paths[f].empty()) {
      CHECK(std::isinf(rate[f]));
      continue;
    }
    CHECK(rate[f] > 0);
    bool bottleneck = false;
    for (int l : paths[f]) {
      const size_t u = static_cast<size_t>(l);
      bottleneck = bottleneck || (load[u] >= capacity[u] * (1 - 1e-9) && rate[f] >= top[u] * (1 - 1e-9));
    }
    CHECK(bottleneck);
  }
}

size_t distinct_finite_rates(std::vector<double> rate) {
  rate.erase(std::remove_if(rate.begin(), rate.end(), [](double r) { return std::isinf(r); }), rate.end());
  std::sort(rate.begin(), rate.end());
  return static_cast<size_t>(std::unique(rate.begin(), rate.end()) - rate.begin());
}

}  // namespace

TEST_CASE("the_fast_solver_gives_exactly_the_reference_rates_on_random_instances", "[network]") {
  // Progressive filling with an indexed heap must pick the same bottlenecks in the same order
  // as the textbook O(L·F) loop and do the same arithmetic: equal to the last bit. Integer
  // capacities make ties between links (and the lowest-index tie-break) frequent.
  std::mt19937 rng(20240611);
  const auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int contended = 0, differing = 0;
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
    for (size_t f = 0; f < fast.size(); ++f)
      if (!(fast[f] == ref[f])) ++differing;
    INFO("trial " << trial);
    check_max_min(paths, capacity, fast);
    if (distinct_finite_rates(fast) >= 2) ++contended;
  }
  CHECK(differing == 0);
  // Agreement is only worth something if the instances are not trivial: in most of them some
  // flows are held back by a bottleneck that others are not (if a generator bug gave every flow
  // the same rate, or no links at all, the comparison above would pass vacuously).
  CHECK(contended > 1500);
}

TEST_CASE("a_flow_that_crosses_no_link_is_not_limited", "[network]") {
  const auto r = max_min_rates({{}, {0}}, {100});
  CHECK(std::isinf(r[0]));
  CHECK(r[1] == Approx(100));
}
