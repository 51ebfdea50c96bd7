// The comm hub's plane choice, by hand, and a configuration error found while the simulation
// runs (no plane joins a group) reaching the user as exit 2 with its message.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "sim/run/comm_hub.h"
#include "topologies/topology.h"
#include "tests/support/run_cli.h"

using namespace orrery;

namespace {

/// Planes of an 8-device system in two nodes of 4, from YAML text.
std::vector<Plane> planes(const std::string& yaml) {
  const YAML::Node doc = load_yaml_text(yaml, "test");
  const SystemShape shape{8, 4, 0};
  std::vector<Plane> out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    out.push_back(build_plane(Section(it->second, "planes." + name, plane_params()), name, shape));
  }
  return out;
}

const char* kTwoPlanes = R"(
fast: {topology: switch, link_bandwidth: 400 GB/s, traffic: [tensor]}
slow: {topology: switch, link_bandwidth: 50 GB/s, traffic: [data]}
)";

}  // namespace

TEST_CASE("a_group_uses_the_plane_that_carries_its_traffic_class_even_if_slower", "[comm_hub]") {
  const auto p = planes(kTwoPlanes);
  CHECK(choose_plane(p, CommGroup::Tensor, {0, 1, 2, 3}) == PlaneId{0});
  CHECK(choose_plane(p, CommGroup::Data, {0, 4}) == PlaneId{1});
  // Pipeline traffic is carried by neither: the faster plane wins.
  CHECK(choose_plane(p, CommGroup::PipelineNext, {0, 4}) == PlaneId{0});
}

TEST_CASE("among_planes_carrying_a_class_the_highest_bandwidth_times_efficiency_wins", "[comm_hub]") {
  const auto p = planes(R"(
a: {topology: switch, link_bandwidth: 400 GB/s, efficiency: 0.5, traffic: [data]}
b: {topology: switch, link_bandwidth: 300 GB/s, efficiency: 0.9}
c: {topology: switch, link_bandwidth: 1000 GB/s, traffic: [tensor]}
)");
  // Data: a and b carry it (b has no traffic list: it carries every class); 400 x 0.5 = 200 <
  // 300 x 0.9 = 270, so b; c is fastest but does not carry data.
  CHECK(choose_plane(p, CommGroup::Data, {0, 1}) == PlaneId{1});
  // Tensor: b and c carry it; c is faster.
  CHECK(choose_plane(p, CommGroup::Tensor, {0, 1}) == PlaneId{2});
}

TEST_CASE("a_node_scoped_plane_does_not_join_devices_of_two_nodes", "[comm_hub]") {
  const auto p = planes(R"(
local: {topology: switch, scope: node, link_bandwidth: 400 GB/s, traffic: [data]}
wide: {topology: switch, link_bandwidth: 50 GB/s, traffic: [tensor]}
)");
  CHECK(choose_plane(p, CommGroup::Data, {0, 3}) == PlaneId{0});
  CHECK(choose_plane(p, CommGroup::Data, {0, 4}) == PlaneId{1});
  const auto only_local = planes("local: {topology: switch, scope: node, link_bandwidth: 400 GB/s}\n");
  CHECK_THROWS_AS(choose_plane(only_local, CommGroup::Data, {0, 4}), ConfigError);
}

TEST_CASE("no_plane_for_a_group_found_mid_run_exits_2_with_the_group", "[comm_hub][cli]") {
  const auto r = test::run_orrery(
      "run --system dgx-h100 --workload gpt2-xl-train --set workload.batch=1 "
      "--set system.devices_per_node=4 --set system.planes.nvlink.scope=node "
      "--set system.planes.infiniband.scope=node --quiet");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("no network plane joins the dp group of devices [0, 1, 2, 3, 4, 5, 6, 7]") !=
        std::string::npos);
  CHECK(r.err.find("internal error") == std::string::npos);
}

TEST_CASE("aggregate_all_to_all_v_ends_when_the_flow_level_model_does", "[comm_hub][network]") {
  // Pairs of identical planes: on the first of each pair the transfer is computed in aggregate
  // (port loads plus the shortest latency), on the second expanded into max-min flows. Skewed
  // shares, dispatch and combine, on a switch and on a two-rail fat tree of 4 leaves.
  std::string yaml;
  for (const char* dir : {"d", "c"})
    for (const char* mode : {"agg", "flows"}) {
      yaml += fmt::format("sw_{}_{}: {{topology: switch, link_bandwidth: 100 GB/s, link_latency: 1 us, efficiency: 0.9}}\n", dir, mode);
      yaml += fmt::format("ft_{}_{}: {{topology: fat_tree, leaf_size: 2, spines: 2, rails: 2, link_bandwidth: 50 GB/s, link_latency: 0.5 us}}\n", dir, mode);
    }
  static std::vector<Plane> keep;
  keep = planes(yaml);  // order: sw_d_agg, ft_d_agg, sw_d_flows, ft_d_flows, then _c_
  for (const Plane& p : keep) REQUIRE(p.device_non_blocking);
  ParallelSpec par;
  CommHub hub("hub", par, keep, {});
  CommOp dispatch;
  dispatch.op = CommKind::AllToAllV;
  dispatch.bytes = 64e6;
  dispatch.shares = std::make_shared<const std::vector<double>>(
      std::vector<double>{0.40, 0.05, 0.20, 0.05, 0.10, 0.10, 0.05, 0.05});
  CommOp combine = dispatch;
  combine.reverse = true;
  const std::vector<int> group = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<double> end(keep.size(), -1);
  for (size_t p = 0; p < keep.size(); ++p) {
    const bool flows = (p % 4) >= 2;
    keep[p].device_non_blocking = !flows;  // a blocking plane is always expanded into flows
    hub.transfer(p < 4 ? dispatch : combine, group, PlaneId{p},
                 [&end, p] { end[p] = sc_core::sc_time_stamp().to_seconds(); });
  }
  sc_core::sc_start();
  for (size_t p : {0, 1, 4, 5}) {
    INFO("plane " << keep[p].name);
    REQUIRE(end[p] > 0);
    CHECK(end[p] == Approx(end[p + 2]).epsilon(1e-6));
  }
  CHECK(hub.aggregated() == 4);
  // The hot member (40% of every sender's bytes) sets the dispatch on the switch: 7 x 0.4 x
  // 64 MB into one 90 GB/s port, after the 2 x 1 us path.
  CHECK(end[0] == Approx(7 * 0.4 * 64e6 / 90e9 + 2e-6).epsilon(1e-9));
}
