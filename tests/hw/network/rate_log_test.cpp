// The rate log behind the trace's network counters: rebuilt series are exact piecewise-constant
// functions of time whose integrals are the bytes each link carried (conservation), and a
// hand-computed max-min case shows the shares the solver gave. Each test case runs in its own
// process, so each builds its own module.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "hw/network/network_module.h"
#include "tests/support/star_plane.h"
#include "hw/network/rate_log.h"

using namespace orrery;
using orrery::test::star;

namespace {

struct Transfer {
  int src, dst;
  double bytes;
  double at;  // start time, seconds
};

/// Starts each transfer at its time (transfers in time order). A method process that re-arms
/// itself for the next start time, as the simulator's own modules do: no thread stacks.
class Driver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Driver);
  Driver(sc_core::sc_module_name name, NetworkModule& net, std::vector<Transfer> transfers)
      : sc_module(name), net_(net), transfers_(std::move(transfers)) {
    SC_METHOD(start_due);
    sensitive << wake_;
  }

 private:
  void start_due() {
    // Due within the time resolution: an event cannot land closer to a start time than that.
    const double now = sc_core::sc_time_stamp().to_seconds();
    const double res = sc_core::sc_get_time_resolution().to_seconds();
    while (next_ < transfers_.size() && transfers_[next_].at <= now + res) {
      const Transfer& t = transfers_[next_++];
      net_.start_flow(EndpointId{t.src}, EndpointId{t.dst}, t.bytes, [] {});
    }
    if (next_ < transfers_.size())
      wake_.notify(sc_core::sc_time(std::max(transfers_[next_].at - now, res), sc_core::SC_SEC));
  }
  sc_core::sc_event wake_;
  size_t next_ = 0;
  NetworkModule& net_;
  std::vector<Transfer> transfers_;
};

const RateSeries* find(const std::vector<RateSeries>& s, int link) {
  for (const auto& r : s)
    if (r.link == link) return &r;
  return nullptr;
}

using Points = std::vector<std::pair<double, double>>;

void check_points(const RateSeries* s, const Points& want) {
  REQUIRE(s != nullptr);
  REQUIRE(s->points.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    CHECK(s->points[k].first == Approx(want[k].first).margin(1e-12));
    CHECK(s->points[k].second == Approx(want[k].second).margin(1e-3));
  }
}

}  // namespace

TEST_CASE("rate_series_merges_changes_of_one_instant_and_integrates_them", "[rate_log]") {
  // Link 3: +2 at t=1, +1 and -1 at t=2 (no visible change), -2 at t=4: one step of 2 over
  // [1, 4), 6 bytes. Plane total: +5 over [0, 1). Link 7 only ever 0: no series.
  const auto s = rate_series({{1, 3, 2.0}, {2, 3, 1.0}, {0, kPlaneTotal, 5.0}, {2, 3, -1.0},
                              {4, 3, -2.0}, {1, kPlaneTotal, -5.0}, {3, 7, 0.0}});
  REQUIRE(s.size() == 2);
  check_points(&s[0], {{0, 5}, {1, 0}});
  CHECK(s[0].bytes == 5.0);
  check_points(&s[1], {{1, 2}, {4, 0}});
  CHECK(s[1].link == 3);
  CHECK(s[1].bytes == 6.0);
  CHECK(s[1].peak == 2.0);
}

TEST_CASE("nothing_is_logged_unless_asked_for", "[rate_log]") {
  const Plane p = star(3, 1e9, 0);
  NetworkModule net("net", p);
  Driver d("driver", net, {{0, 2, 1e9, 0}, {1, 2, 1e9, 0}});
  sc_core::sc_start();
  CHECK(net.rate_log().empty());
}

TEST_CASE("two_flows_on_one_link_get_max_min_shares_in_the_counters", "[rate_log]") {
  // d0 -> d2 (1 GB) and d1 -> d2 (0.5 GB) share switch -> d2 (1 GB/s): 0.5 GB/s each. The
  // short one ends at t = 1 s (0.5 GB at 0.5 GB/s); the long one has 0.5 GB left and, alone,
  // takes the whole link: it ends at 1.5 s. By hand:
  //   switch -> d2 : 1 GB/s over [0, 1.5)          (no change at t = 1: 0.5 + 0.5 = 1)
  //   d0 -> switch : 0.5 GB/s over [0, 1), 1 GB/s over [1, 1.5)
  //   d1 -> switch : 0.5 GB/s over [0, 1)
  //   plane total  : 1 GB/s over [0, 1.5)         (each flow once, not once per hop)
  const Plane p = star(3, 1e9, 0);
  NetworkModule net("net", p);
  net.record_rates(true);
  Driver d("driver", net, {{0, 2, 1e9, 0}, {1, 2, 0.5e9, 0}});
  sc_core::sc_start();
  const auto s = rate_series(net.rate_log());
  const Path p0 = p.route(EndpointId{0}, EndpointId{2}), p1 = p.route(EndpointId{1}, EndpointId{2});
  check_points(&s[0], {{0, 1e9}, {1.5, 0}});
  check_points(find(s, p0.back().value), {{0, 1e9}, {1.5, 0}});
  check_points(find(s, p0.front().value), {{0, 0.5e9}, {1, 1e9}, {1.5, 0}});
  check_points(find(s, p1.front().value), {{0, 0.5e9}, {1, 0}});
  CHECK(s.size() == 4);  // the total and the three links that carried bytes
}

TEST_CASE("every_link_counter_integrates_to_the_bytes_it_carried_and_the_total_to_the_flows", "[rate_log]") {
  // Staggered transfers with per-hop latency, so flows start and end at many instants and
  // share links in changing sets.
  const Plane p = star(6, 25e9, 2e-6);
  NetworkModule net("net", p);
  net.record_rates(true);
  std::vector<Transfer> ts;
  double sent = 0;
  for (int k = 0; k < 24; ++k) {
    const int src = k % 6, dst = (k * 5 + 1) % 6 == src ? (src + 1) % 6 : (k * 5 + 1) % 6;
    const double bytes = 1e6 * (1 + k % 7);
    ts.push_back({src, dst, bytes, 1e-5 * (k / 3)});
    sent += bytes;
  }
  Driver d("driver", net, ts);
  sc_core::sc_start();
  const auto s = rate_series(net.rate_log());
  CHECK(s[0].bytes == Approx(sent).epsilon(1e-7));
  CHECK(s[0].points.back().second == 0);
  const auto carried = net.link_bytes();
  for (size_t l = 0; l < carried.size(); ++l) {
    const RateSeries* r = find(s, static_cast<int>(l));
    INFO("link " << l);
    CHECK((r ? r->bytes : 0.0) == Approx(carried[l]).epsilon(1e-7));
    if (r) CHECK(r->peak <= p.links[l].bandwidth * (1 + 1e-12));
  }
}
