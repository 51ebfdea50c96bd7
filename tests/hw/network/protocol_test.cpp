// The size ramp's selection estimate (hw/network/protocol.h), by hand.
#include <catch2/catch.hpp>

#include "hw/network/protocol.h"

using namespace orrery;

TEST_CASE("protocol_estimate_adds_base_steps_bytes_and_one_fill", "[network][ramp]") {
  // R = 80 GB/s over C = 4 channels; one stage of k = 2 rounds, λ = 1 us, W = 40 MB.
  const std::vector<Protocol> ps = {{"ll", 2e-6, 0, 0.5, 0}, {"simple", 10e-6, 3e-6, 1, 1e6}};
  const std::vector<RampStage> one = {{2, 1e-6, 40e6}};
  // LL: 2 + 2 x 1 + 40e6 / 40e9 s = 1,004 us. Simple: 10 + 2 x 4 + 500 + fill, fill =
  // min(1 MB, 40 MB / (2 x 4)) / (80 / 4 GB/s) = 50 us: 568 us.
  const ProtocolEstimate e = choose_protocol(ps, one, 80e9, 4);
  REQUIRE(e.protocol != nullptr);
  CHECK(e.protocol->name == "simple");
  CHECK(e.time == Approx(568e-6).epsilon(1e-12));
  CHECK(pipeline_fill(ps[1], one[0], 80e9, 4) == Approx(50e-6).epsilon(1e-12));
  // A channel's share of a step smaller than a slice: the slice shrinks to it.
  CHECK(pipeline_fill(ps[1], RampStage{2, 1e-6, 4e6}, 80e9, 4) == Approx(0.5e6 / 20e9).epsilon(1e-12));
  // The fill is charged once: two stages give the larger of their fills.
  const std::vector<RampStage> two = {{2, 1e-6, 40e6}, {1, 1e-6, 1e6}};
  CHECK(collective_fill(ps[1], two, 80e9, 4) == Approx(50e-6).epsilon(1e-12));
  // Small transfers take LL: W = 40 kB: LL 2 + 2 + 1 = 5 us; Simple 10 + 8 + 0.5 + 0.25 us.
  CHECK(choose_protocol(ps, {{2, 1e-6, 40e3}}, 80e9, 4).protocol->name == "ll");
}

TEST_CASE("without_protocols_the_estimate_is_the_plain_model", "[network][ramp]") {
  const ProtocolEstimate e = choose_protocol({}, {{3, 1e-6, 30e6}}, 100e9, 0);
  CHECK(e.protocol == nullptr);
  CHECK(e.time == Approx(3e-6 + 300e-6).epsilon(1e-12));
  // Equal estimates: the first listed wins.
  const std::vector<Protocol> same = {{"ll128", 0, 0, 1, 0}, {"simple", 0, 0, 1, 0}};
  CHECK(choose_protocol(same, {{1, 0, 1e6}}, 1e9, 1).protocol->name == "ll128");
}
