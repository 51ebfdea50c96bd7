// Network and collectives end to end, against hand-computed answers.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

/// Writes a system with `devices` H100s and one plane described by `plane` (YAML mapping body).
std::string system_file(const std::string& name, int devices, const std::string& plane) {
  const std::string path = "/tmp/orrery-test-" + name + ".yaml";
  std::ofstream(path) << fmt::format("name: {}\ndevice: h100-sxm\ndevices: {}\nplanes:\n  net: {}\n",
                                     name, devices, plane);
  return path;
}

nlohmann::json collective(const std::string& system, const std::string& op, const std::string& bytes,
                          const std::string& extra = "") {
  return run_report("--system " + system + " --workload allreduce-1gib --set workload.collective.op=" +
                    op + " --set 'workload.collective.bytes=" + bytes + "' " + extra);
}

}  // namespace

TEST_CASE("ring_all_reduce_on_a_switch_takes_2(n-1)_steps_of_S/n", "[collective]") {
  const std::string sys = system_file("switch4", 4, "{topology: switch, link_bandwidth: 100 GB/s, link_latency: 1 us}");
  const auto r = collective(sys, "all_reduce", "400 MB");
  // 6 rounds; each round every rank sends 100 MB over its own 100 GB/s port (2 hops latency).
  CHECK(r["summary"]["step_time_s"].get<double>() == Approx(6 * (1e-3 + 2e-6)).epsilon(1e-3));
  CHECK(r["summary"]["busbw_GBps"].get<double>() == Approx(100).epsilon(0.01));
}

TEST_CASE("all_to_all_on_a_non_blocking_clos_takes_bytes_per_port_over_port_bandwidth", "[collective]") {
  const std::string sys = system_file("clos16", 16,
      "{topology: fat_tree, leaf_size: 4, spines: 4, link_bandwidth: 100 GB/s, link_latency: 0 us}");
  const auto r = collective(sys, "all_to_all", "1.6 GB");
  // Each rank sends 15 x 100 MB through its 100 GB/s port: 15 ms, whatever the spine a flow takes.
  CHECK(r["summary"]["step_time_s"].get<double>() == Approx(15e-3).epsilon(0.02));
}

TEST_CASE("an_oversubscribed_fat_tree_slows_cross_leaf_traffic_by_the_ratio", "[collective]") {
  // Ring order that makes every send_recv flow cross from one leaf to another.
  const std::string order = "[0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]";
  const std::string base = "{topology: fat_tree, leaf_size: 4, spines: 2, link_bandwidth: 100 GB/s, link_latency: 0 us";
  const auto full = collective(system_file("ft1", 16, base + ", oversubscription: 1}"), "send_recv", "1 GB",
                               "--set 'workload.collective.group=" + order + "'");
  const auto over = collective(system_file("ft2", 16, base + ", oversubscription: 2}"), "send_recv", "1 GB",
                               "--set 'workload.collective.group=" + order + "'");
  CHECK(over["summary"]["step_time_s"].get<double>() / full["summary"]["step_time_s"].get<double>() ==
        Approx(2).epsilon(0.02));
}

TEST_CASE("dgx_h100_large_all_reduce_reaches_measured_bus_bandwidth", "[collective]") {
  // Real 8 x H100 HGX systems reach ~370 GB/s bus bandwidth on large NCCL all-reduces.
  const auto r = run_report("--system dgx-h100 --workload allreduce-1gib");
  const double busbw = r["summary"]["busbw_GBps"];
  INFO("busbw " << busbw << " GB/s");
  CHECK(std::abs(busbw - 370) / 370 <= 0.10);
}

TEST_CASE("every_collective_runs_and_reports_nccl_bandwidths", "[collective]") {
  for (const char* op : {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv"}) {
    const auto r = collective("hgx-h200x2", op, "64 MiB");
    INFO(op);
    CHECK(r["summary"]["algbw_GBps"].get<double>() > 0);
    CHECK(r["summary"]["busbw_GBps"].get<double>() <= 450);
  }
  const auto tree = collective("dgx-h100", "all_reduce", "256 MiB", "--set workload.collective.algorithm=tree");
  CHECK(tree["summary"]["algorithm"] == "tree");
}

TEST_CASE("a_bad_network_is_a_clear_error", "[collective]") {
  const std::string isolated = system_file("isolated", 3, "{topology: graph, switches: [s], links: [[d0, s], [d1, s]], link_bandwidth: 1 GB/s}");
  CliResult r = run_orrery("run --system " + isolated + " --workload allreduce-1gib");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no route from device") && Catch::Contains("system.planes.net"));
  const std::string unknown = system_file("unknown", 2, "{topology: graph, links: [[d0, s9]], link_bandwidth: 1 GB/s}");
  r = run_orrery("run --system " + unknown + " --workload allreduce-1gib");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown node 's9'"));
  r = run_orrery("run --system dgx-h100 --workload allreduce-1gib --set 'system.planes.nvlink.link_bandwidth=-1 GB/s'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("system.planes.nvlink.link_bandwidth"));
  r = run_orrery("run --system dgx-h100 --workload gpt2-xl-train --set workload.parallel.tp=3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("workload.parallel.tp") && Catch::Contains("does not divide"));
}
