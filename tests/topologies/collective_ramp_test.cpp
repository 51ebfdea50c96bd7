// The collective size ramp (hw/network/protocol.h, docs/models.md §7.5): protocol choice,
// channels and pipelining, against a hand-computed case, the nccl-tests figures of
// tests/data/nccl_tests_nvlink.json, and the 2-GPU pair against the 8-GPU box.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

std::string pair_system(const std::string& name, const std::string& channel_bandwidth) {
  const std::string path = "/tmp/orrery-test-ramp-" + name + ".yaml";
  std::ofstream(path) << "name: " << name << "\ndevice: h100-sxm\ndevices: 2\nplanes:\n  net: {topology: switch, "
                      << "link_bandwidth: 100 GB/s, link_latency: 1 us, efficiency: 1, channels: 4, "
                      << "channel_bandwidth: " << channel_bandwidth << ", ll_efficiency: 0.5, ll_base_latency: 2 us, "
                      << "simple_efficiency: 1, simple_base_latency: 10 us, simple_step_latency: 3 us, "
                      << "simple_slice: 1 MB}\n";
  return path;
}

nlohmann::json collective(const std::string& system, const std::string& op, const std::string& bytes,
                          const std::string& extra = "") {
  return run_report("--system " + system + " --workload allreduce-1gib --set workload.collective.op=" + op +
                    " --set 'workload.collective.bytes=" + bytes + "' " + extra);
}

double busbw(const nlohmann::json& r) { return r["summary"]["busbw_GBps"].get<double>(); }
double seconds(const nlohmann::json& r) { return r["summary"]["step_time_s"].get<double>(); }

}  // namespace

TEST_CASE("the_ramp_picks_the_protocol_and_costs_it_as_computed_by_hand", "[collective][ramp]") {
  // 2 ranks on a 100 GB/s switch (path latency λ = 2 hops x 1 us), 4 channels of 20 GB/s:
  // R = min(100, 4 x 20) = 80 GB/s. all_gather of S: one round (k = 1), W = S/2 per rank.
  //   LL:     T = 2 us + 1 x (2 us + 0) + W / (0.5 x 80 GB/s)
  //   Simple: T = 10 us + 1 x (2 us + 3 us) + W / 80 GB/s + min(1 MB, W / 4) / (80 / 4 GB/s)
  const std::string sys = pair_system("hand", "20 GB/s");
  // S = 100 MB: LL 1,254 us, Simple 10 + 5 + 625 + 50 = 690 us -> Simple.
  const auto big = collective(sys, "all_gather", "100 MB");
  CHECK(big["summary"]["protocol"] == "simple");
  CHECK(seconds(big) == Approx(690e-6).epsilon(1e-6));
  CHECK(busbw(big) == Approx(100e6 / 690e-6 / 2 / 1e9).epsilon(1e-6));
  // S = 1 MB: LL 2 + 2 + 12.5 = 16.5 us, Simple 10 + 5 + 6.25 + 6.25 = 27.5 us -> LL, whose
  // flows carry twice the payload on the wire (half of every 8-byte line is its flag).
  const auto small = collective(sys, "all_gather", "1 MB");
  CHECK(small["summary"]["protocol"] == "ll");
  CHECK(seconds(small) == Approx(16.5e-6).epsilon(1e-6));
  CHECK(small["links"][0]["bytes"].get<double>() == Approx(1e6).epsilon(1e-9));
  // Round by round gives the same (one round here).
  const auto rounds = collective(sys, "all_gather", "100 MB", "--set workload.collective.expansion=rounds");
  CHECK(seconds(rounds) == Approx(690e-6).epsilon(1e-6));
}

TEST_CASE("with_the_ramp_round_by_round_still_gives_the_staged_time", "[collective][ramp]") {
  // A ring stage of k rounds pays k step costs and one pipeline fill either way.
  for (const char* op : {"all_reduce", "all_gather"})
    for (const char* bytes : {"1 MiB", "64 MiB", "1 GiB"}) {
      const auto staged = collective("dgx-h100", op, bytes);
      const auto rounds = collective("dgx-h100", op, bytes, "--set workload.collective.expansion=rounds");
      INFO(op << " " << bytes);
      CHECK(staged["summary"]["protocol"] == rounds["summary"]["protocol"]);
      CHECK(seconds(rounds) == Approx(seconds(staged)).epsilon(1e-6));
    }
}

TEST_CASE("the_channels_cap_what_an_endpoint_sends_not_what_a_link_carries", "[collective][ramp]") {
  // Without the channel limit the same 100 MB all_gather runs at the 100 GB/s link:
  // 10 + 5 + 500 + min(1 MB, 12.5 MB) / (100 / 4 GB/s) = 555 us.
  const std::string sys = pair_system("nochan", "1000 GB/s");
  const auto r = collective(sys, "all_gather", "100 MB");
  CHECK(r["summary"]["protocol"] == "simple");
  CHECK(seconds(r) == Approx(555e-6).epsilon(1e-6));
}

TEST_CASE("busbw_ramps_with_size_toward_the_channel_ceiling", "[collective][ramp]") {
  // dgx-h100: ceiling min(18 links x 25 GB/s x 0.90, 12 channels x 30.2 GB/s) = 362.4 GB/s.
  double last = 0;
  for (const char* bytes : {"1 MiB", "16 MiB", "64 MiB", "256 MiB", "1 GiB", "4 GiB"}) {
    const auto r = collective("dgx-h100", "all_reduce", bytes);
    INFO(bytes << ": " << busbw(r) << " GB/s, " << r["summary"]["protocol"]);
    CHECK(busbw(r) > last);
    CHECK(busbw(r) < 362.4);
    last = busbw(r);
  }
  CHECK(last > 0.97 * 362.4);
  CHECK(collective("dgx-h100", "all_reduce", "64 KiB")["summary"]["protocol"] == "ll");
  CHECK(collective("dgx-h100", "all_reduce", "4 GiB")["summary"]["protocol"] == "simple");
}

TEST_CASE("nccl_tests_bus_bandwidths_of_dgx_h100_within_5_percent", "[collective][ramp][validation]") {
  std::ifstream in(source_path("tests/data/nccl_tests_nvlink.json"));
  REQUIRE(in.good());
  const auto data = nlohmann::json::parse(in);
  int rows = 0;
  double worst = 0;
  for (const auto& m : data["measured"]) {
    for (const auto& b : m["bytes"]) {
      const auto r = collective(m["system"].get<std::string>(), m["op"].get<std::string>(),
                                fmt::format("{} B", b.get<double>()),
                                "--set workload.collective.algorithm=" + m["algorithm"].get<std::string>());
      const double want = m["busbw_GBps"].get<double>();
      const double err = busbw(r) / want - 1;
      INFO(m["op"] << " " << b << " B (" << m["role"] << "): " << busbw(r) << " GB/s vs " << want);
      CHECK(std::abs(err) <= 0.05);
      worst = std::max(worst, std::abs(err));
      ++rows;
    }
  }
  CHECK(rows == 13);
  WARN("largest |error| over the nccl-tests rows: " << 100 * worst << "%");
}

TEST_CASE("a_2_gpu_pair_runs_below_the_8_gpu_box_because_of_its_fixed_costs", "[collective][ramp]") {
  // Same links (18 x 25 GB/s into NVSwitch) and channels (12 x 30.2 GB/s), so the same per-GPU
  // ceiling; but a pair moves only S/2 per rank in an all_gather (the box 7S/8) against the
  // protocol's fixed costs (base latency, per-step cost, the last slice of the pipeline):
  // its bus bandwidth is lower at every size. Without those fixed costs the two agree.
  for (const char* bytes : {"64 MiB", "256 MiB", "1 GiB", "2 GiB"}) {
    const double pair = busbw(collective("hgx-h200x2", "all_gather", bytes));
    const double box = busbw(collective("dgx-h100", "all_gather", bytes));
    INFO(bytes << ": pair " << pair << ", box " << box);
    CHECK(pair < box);
    CHECK(pair < 362.4);
  }
  std::string flat;
  for (const char* p : {"ll", "ll128", "simple"})
    flat += fmt::format(" --set system.planes.nvlink.{0}_base_latency=0us --set system.planes.nvlink.{0}_step_latency=0us"
                        " --set 'system.planes.nvlink.{0}_slice=0 B'", p);
  flat += " --set system.planes.nvlink.link_latency=0us";
  const double pair = busbw(collective("hgx-h200x2", "all_gather", "64 MiB", flat));
  const double box = busbw(collective("dgx-h100", "all_gather", "64 MiB", flat));
  CHECK(pair == Approx(362.4).epsilon(1e-6));
  CHECK(box == Approx(362.4).epsilon(1e-6));
}

namespace {

// The H100/H200 planes' ring search (topologies/dgx-h100.yaml), no protocol costs.
const char* kSearch = "channel_speeds: [60 GB/s, 50 GB/s, 40 GB/s, 30 GB/s, 24 GB/s, 20 GB/s, 15 GB/s, 12 GB/s, "
                      "11 GB/s, 6 GB/s, 3 GB/s], channel_link_efficiency: 0.824, channel_speed_factor: 1.0066667";

std::string search_system(const std::string& name, int devices, const std::string& layout) {
  const std::string path = "/tmp/orrery-test-ramp-" + name + ".yaml";
  std::ofstream(path) << "name: " << name << "\ndevice: h100-sxm\ndevices: " << devices << "\nplanes:\n  net: {"
                      << layout << ", link_latency: 0 us, efficiency: 0.9, " << kSearch << "}\n";
  return path;
}

std::string flat_costs() {
  std::string flat;
  for (const char* p : {"ll", "ll128", "simple"})
    flat += fmt::format(" --set system.planes.nvlink.{0}_base_latency=0us --set system.planes.nvlink.{0}_step_latency=0us"
                        " --set 'system.planes.nvlink.{0}_slice=0 B'", p);
  return flat + " --set system.planes.nvlink.link_latency=0us";
}

}  // namespace

TEST_CASE("each_group_gets_the_channels_of_its_own_links", "[collective][ramp][channels]") {
  // Without the ramp's fixed costs a 2-rank all_gather's bus bandwidth is its ceiling: the
  // channels NCCL's ring search builds on the narrowest link the group's rings cross
  // (hw/network/channel_search.h), times what a channel moves (30 x 1.0066667 = 30.2 GB/s).
  const double ch = 1.0066667;
  // On NVSwitch every ring path is a GPU's own 18-link port (credited 370.8 GB/s): 6 rings of
  // 60 doubled into 12 channels of 30, for 2 GPUs as for 8 (NCCL's search has nothing else to
  // go on): ratio 1.
  const double pair = busbw(collective("dgx-h100", "all_gather", "1 GiB", "--set 'workload.collective.group=[0, 1]'" + flat_costs()));
  const double box = busbw(collective("dgx-h100", "all_gather", "1 GiB", flat_costs()));
  CHECK(pair == Approx(12 * 30 * ch).epsilon(1e-6));
  CHECK(box == Approx(12 * 30 * ch).epsilon(1e-6));
  // Two GPUs bridged by 12 NVLinks (300 GB/s, credited 247.2): 4 rings of 60 doubled into 8
  // channels of 30: two thirds of the NVSwitch box's ceiling.
  const std::string bridge = search_system("bridge", 2, "topology: full_mesh, link_bandwidth: 300 GB/s");
  const double bridged = busbw(collective(bridge, "all_gather", "1 GiB"));
  CHECK(bridged == Approx(8 * 30 * ch).epsilon(1e-6));
  CHECK(bridged / box == Approx(2.0 / 3.0).epsilon(1e-6));
  // Same plane, same group size, different links: two switches of two GPUs (450 GB/s each)
  // joined by a 100 GB/s trunk (credited 82.4: 2 rings of 40 doubled into 4 channels of 20).
  // A pair on one switch gets the port's 12 x 30; a pair across the trunk 4 x 20, and so does
  // the 4-GPU ring, which crosses the trunk too. The trunk (90 GB/s after efficiency) would
  // allow more: the channels bind.
  const std::string two = search_system("trunk", 4,
      "topology: graph, switches: [a, b], link_bandwidth: 450 GB/s, links: [[d0, a], [d1, a], [d2, b], [d3, b], "
      "{a: a, b: b, bandwidth: 100 GB/s}]");
  const double near = busbw(collective(two, "all_gather", "1 GiB", "--set 'workload.collective.group=[0, 1]'"));
  const double far = busbw(collective(two, "all_gather", "1 GiB", "--set 'workload.collective.group=[0, 2]'"));
  const double all = busbw(collective(two, "all_gather", "1 GiB"));
  CHECK(near == Approx(12 * 30 * ch).epsilon(1e-6));
  CHECK(far == Approx(4 * 20 * ch).epsilon(1e-6));
  CHECK(all == Approx(4 * 20 * ch).epsilon(1e-6));
  CHECK(far / near == Approx(80.0 / 360.0).epsilon(1e-6));
}

TEST_CASE("channel_search_keys_that_cannot_work_are_clear_errors", "[collective][ramp][channels]") {
  CliResult r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.nvlink.channels=12 "
                           "--set 'system.planes.nvlink.channel_bandwidth=30 GB/s'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("system.planes.nvlink.channel_speeds") && Catch::Contains("not both"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set 'system.planes.nvlink.channel_speeds=[30 GB/s, 60 GB/s]'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("channel_speeds[1]") && Catch::Contains("fastest first"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set 'system.planes.nvlink.channel_speeds=[60 us]'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("channel_speeds[0]"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.infiniband.channel_link_efficiency=0.8");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("applies only with channel_speeds"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.nvlink.channel_link_efficiency=1.2");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("cannot exceed 1"));
}

TEST_CASE("the_ramp_applies_inside_training_graphs_through_the_comm_hub", "[collective][ramp]") {
  // A data-parallel step on dgx-h100: its gradient all-reduces follow the ramp, so removing the
  // protocols' fixed costs and the channel limit makes the step's communication faster.
  const std::string base = "--system dgx-h100 --workload gpt2-xl-train --set workload.parallel.dp=8";
  std::string free = " --set system.planes.nvlink.channel_speed_factor=30";
  for (const char* p : {"ll", "ll128", "simple"})
    free += fmt::format(" --set system.planes.nvlink.{0}_base_latency=0us --set system.planes.nvlink.{0}_step_latency=0us"
                        " --set 'system.planes.nvlink.{0}_slice=0 B'", p);
  const auto with = run_report(base);
  const auto without = run_report(base + free);
  CHECK(without["summary"]["step_time_s"].get<double>() < with["summary"]["step_time_s"].get<double>());
}

TEST_CASE("ramp_keys_that_cannot_work_alone_are_clear_errors", "[collective][ramp]") {
  CliResult r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set 'system.planes.infiniband.channel_bandwidth=10 GB/s'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("system.planes.infiniband.channel_bandwidth") && Catch::Contains("needs channels"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.infiniband.ll_step_latency=1us");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("ll_efficiency"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.nvlink.simple_efficiency=1.5");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("cannot exceed 1"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set system.planes.infiniband.channels=4");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("needs channel_bandwidth"));
}
