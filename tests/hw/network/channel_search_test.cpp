// NCCL's ring search as hw/network/channel_search.h models it, by hand: channels and what one
// moves, from the narrowest link a collective's rings cross.
#include <catch2/catch.hpp>

#include "hw/network/channel_search.h"

using namespace orrery;

namespace {
constexpr double GB = 1e9;
// The SM90 intra-node speeds (NCCL src/graph/search.cc sm90SpeedArrayIntra), the 20.6 of 25 GB/s
// NCCL credits an NVLink4 link with, and no speed factor (the search's own figures).
ChannelSearch sm90() {
  return {{60 * GB, 50 * GB, 40 * GB, 30 * GB, 24 * GB, 20 * GB, 15 * GB, 12 * GB, 11 * GB, 6 * GB, 3 * GB},
          0.824, 1.0};
}
}  // namespace

TEST_CASE("nvswitch_port_of_18_links_gives_12_channels_of_30", "[network][channels]") {
  // H100/H200 SXM: 18 x 25 = 450 GB/s into NVSwitch, credited 370.8. 60: 6 rings (360);
  // 50: 7 (350), 40: 9 (360), 30: 12 (360) are not more; 24 / 60 < 0.49 stops. 60 >= 50, so
  // doubled: 12 channels of 30 (NCCL logs 'Channel 00/24' for the 12 rings run twice).
  const ChannelPlan p = search_channels(sm90(), 450 * GB);
  CHECK(p.rings == 6);
  CHECK(p.ring_speed == Approx(60 * GB));
  CHECK(p.channels == 12);
  CHECK(p.bandwidth == Approx(30 * GB));
  CHECK(p.rate() == Approx(360 * GB));
}

TEST_CASE("h800_port_of_8_links_gives_8_channels_of_20", "[network][channels]") {
  // 8 x 25 = 200 GB/s, credited 164.8: 60 fits 2 (120), 50 3 (150), 40 4 (160), 30 5 (150),
  // 24 6 (144), 20 8 (160, not more); 15 / 40 < 0.49 stops. 40 < 50 but only 4 rings: doubled.
  const ChannelPlan p = search_channels(sm90(), 200 * GB);
  CHECK(p.rings == 4);
  CHECK(p.ring_speed == Approx(40 * GB));
  CHECK(p.channels == 8);
  CHECK(p.bandwidth == Approx(20 * GB));
}

TEST_CASE("a_bridged_pair_of_12_links_gives_8_channels_of_30", "[network][channels]") {
  // An NVLink bridge of 12 links (300 GB/s per direction), credited 247.2: 60 fits 4 (240);
  // 50: 4 (200), 40: 6 (240, not more), 30: 8 (240); 24 / 60 stops. Doubled: 8 x 30 = 240,
  // two thirds of the 360 an NVSwitch port gives.
  const ChannelPlan p = search_channels(sm90(), 300 * GB);
  CHECK(p.channels == 8);
  CHECK(p.bandwidth == Approx(30 * GB));
  CHECK(p.rate() / search_channels(sm90(), 450 * GB).rate() == Approx(2.0 / 3.0));
}

TEST_CASE("slow_rings_are_not_doubled_and_too_slow_paths_get_one_channel", "[network][channels]") {
  // One 25 GB/s link, credited 20.6: the search starts at 20 (the fastest <= 20.6): 1 ring;
  // 15, 12, 11 fit 1 each, not more; 6 / 20 stops. 20 < 25: not doubled.
  const ChannelPlan one = search_channels(sm90(), 25 * GB);
  CHECK(one.channels == 1);
  CHECK(one.bandwidth == Approx(20 * GB));
  // A trunk of 100 GB/s, credited 82.4: 60 fits 1, 50 1, 40 2 (80), 30 2, 24 3 (72), 20 4
  // (80, not more); 15 / 40 stops. 40 < 50 with 2 rings: doubled into 4 of 20.
  const ChannelPlan trunk = search_channels(sm90(), 100 * GB);
  CHECK(trunk.rings == 2);
  CHECK(trunk.channels == 4);
  CHECK(trunk.bandwidth == Approx(20 * GB));
  // Below the slowest speed (3 GB/s) no ring fits: one channel at what the link is credited.
  const ChannelPlan slow = search_channels(sm90(), 2 * GB);
  CHECK(slow.channels == 1);
  CHECK(slow.bandwidth == Approx(2 * GB * 0.824));
}

TEST_CASE("many_slow_rings_are_kept_as_they_are", "[network][channels]") {
  // SM90: rings slower than 50 GB/s are not doubled when there are more than 4 of them.
  // 1,000 GB/s credited 824 with speeds {45, 40}: 45 fits 18 (810), 40 20 (800): 18 x 45, not
  // doubled (45 < 50, 18 > 4). At most 32 rings: 2,000 GB/s with {45}: 32 x 45.
  const ChannelSearch s{{45 * GB, 40 * GB}, 0.824, 1.0};
  const ChannelPlan p = search_channels(s, 1000 * GB);
  CHECK(p.rings == 18);
  CHECK(p.channels == 18);
  CHECK(p.bandwidth == Approx(45 * GB));
  CHECK(search_channels({{45 * GB}, 0.824, 1.0}, 2000 * GB).channels == 32);
  // The speed factor scales what a channel moves, not how many there are.
  const ChannelSearch f{sm90().speeds, 0.824, 1.5};
  CHECK(search_channels(f, 450 * GB).channels == 12);
  CHECK(search_channels(f, 450 * GB).bandwidth == Approx(45 * GB));
}
