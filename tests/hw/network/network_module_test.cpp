// The network module through its public interface (endpoints and links as strong ids): flows
// that share a link share its bandwidth, and every byte is credited to every link of its path.
// Each test case runs in its own process, so each builds its own module.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "hw/network/network_module.h"
#include "tests/support/star_plane.h"

using namespace orrery;
using orrery::test::star;

namespace {

struct Transfer {
  int src, dst;
  double bytes;
};

/// Starts every transfer at time 0 and records when each one completes.
class Driver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Driver);
  Driver(sc_core::sc_module_name name, NetworkModule& net, std::vector<Transfer> transfers)
      : sc_module(name), net_(net), transfers_(std::move(transfers)), done_at(transfers_.size(), -1) {
    SC_METHOD(start);
  }

 private:
  void start() {
    for (size_t k = 0; k < transfers_.size(); ++k)
      net_.start_flow(EndpointId{transfers_[k].src}, EndpointId{transfers_[k].dst}, transfers_[k].bytes,
                      [this, k] { done_at[k] = sc_core::sc_time_stamp().to_seconds(); });
  }
  NetworkModule& net_;
  std::vector<Transfer> transfers_;

 public:
  std::vector<double> done_at;  // per transfer, -1 until it completes
};

}  // namespace

TEST_CASE("two_flows_into_one_port_each_get_half_of_it", "[network]") {
  // d0 -> d2 and d1 -> d2 share the switch -> d2 link: 1 GB each at 0.5 GB/s takes 2 s, where
  // one alone would take 1 s; d3 -> d0 shares nothing with them and takes 1 s.
  const Plane p = star(4, 1e9, 0);
  NetworkModule net("net", p);
  Driver d("driver", net, {{0, 2, 1e9}, {1, 2, 1e9}, {3, 0, 1e9}});
  sc_core::sc_start();
  CHECK(d.done_at[0] == Approx(2.0));
  CHECK(d.done_at[1] == Approx(2.0));
  CHECK(d.done_at[2] == Approx(1.0));
  const Path into_d2 = p.route(EndpointId{0}, EndpointId{2});
  REQUIRE(into_d2.size() == 2);
  CHECK(p.link(into_d2.back()).to == p.device_node(EndpointId{2}));
  CHECK(net.link_bytes()[into_d2.back().index()] == Approx(2e9));
  CHECK(net.link_bytes()[into_d2.front().index()] == Approx(1e9));
}

TEST_CASE("a_flow_first_waits_the_latency_of_its_path", "[network]") {
  // Two hops of 1 ms each, then 1 GB at 1 GB/s.
  const Plane p = star(2, 1e9, 1e-3);
  NetworkModule net("net", p);
  Driver d("driver", net, {{0, 1, 1e9}});
  sc_core::sc_start();
  CHECK(p.path_latency(p.route(EndpointId{0}, EndpointId{1})) == Approx(2e-3));
  CHECK(d.done_at[0] == Approx(1.002));
}

TEST_CASE("every_link_carries_the_bytes_of_the_flows_whose_paths_cross_it", "[network]") {
  // Conservation: with many overlapping flows of different sizes (so they finish at different
  // times and the rates are re-solved often), what each link carried is exactly the sum of the
  // bytes of the flows routed over it, and every flow completes.
  const Plane p = star(6, 1e9, 1e-6);
  std::vector<Transfer> transfers;
  for (int s = 0; s < 6; ++s)
    for (int t = 0; t < 6; ++t)
      if (s != t) transfers.push_back({s, t, 1e6 * (1 + (s * 7 + t * 3) % 11)});
  NetworkModule net("net", p);
  Driver d("driver", net, transfers);
  sc_core::sc_start();
  std::vector<double> expected(p.links.size(), 0);
  for (const auto& t : transfers)
    for (LinkId l : p.route(EndpointId{t.src}, EndpointId{t.dst})) expected[l.index()] += t.bytes;
  const auto carried = net.link_bytes();
  REQUIRE(carried.size() == expected.size());
  for (size_t l = 0; l < expected.size(); ++l) {
    INFO("link " << l);
    CHECK(carried[l] == Approx(expected[l]).epsilon(1e-9));
  }
  for (double t : d.done_at) CHECK(t > 0);
  // The busiest port bounds the makespan from below: its bytes at full rate.
  double busiest = 0;
  for (double b : expected) busiest = std::max(busiest, b);
  double last = 0;
  for (double t : d.done_at) last = std::max(last, t);
  CHECK(last >= busiest / 1e9);
}
