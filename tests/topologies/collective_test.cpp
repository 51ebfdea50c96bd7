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

namespace {

double step_time(const nlohmann::json& r) { return r["summary"]["step_time_s"].get<double>(); }

std::string workload_file(const std::string& name, const std::string& collective) {
  const std::string path = "/tmp/orrery-test-wl-" + name + ".yaml";
  std::ofstream(path) << "phase: collective\ncollective: " << collective << "\n";
  return path;
}

}  // namespace

TEST_CASE("staged_expansion_gives_the_round_by_round_time_when_rounds_are_uniform", "[collective]") {
  // A ring stage is its round repeated: n flows carrying k rounds' bytes and paying k path
  // latencies take exactly k times one round, whatever the topology's contention.
  struct Net {
    std::string name, plane, group;
  };
  const std::string ft = "{topology: fat_tree, leaf_size: 4, spines: 2, oversubscription: 2, link_bandwidth: 100 GB/s, link_latency: 1 us}";
  int compared = 0;
  for (int n : {4, 8, 16}) {
    std::string interleaved = "[";
    for (int i = 0; i < n; ++i) interleaved += fmt::format("{}{}", i ? ", " : "", (i % 4) * (n / 4) + i / 4);
    interleaved += "]";
    const std::vector<Net> nets = {
        {"switch", "{topology: switch, link_bandwidth: 100 GB/s, link_latency: 1 us}", "all"},
        {"ring", "{topology: ring, link_bandwidth: 50 GB/s, link_latency: 2 us}", "all"},
        {"fat_tree", ft, "all"},
        {"fat_tree_crossing", ft, interleaved},
    };
    for (const auto& net : nets) {
      const std::string sys = system_file(fmt::format("uniform-{}-{}", net.name, n), n, net.plane);
      for (const char* op : {"all_reduce", "all_gather", "reduce_scatter"}) {
        for (const char* bytes : {"1 MB", "64 MB", "1 GiB"}) {
          if (std::string(op) != "all_reduce" && std::string(bytes) != "64 MB") continue;
          const std::string group = "--set 'workload.collective.group=" + net.group + "'";
          const auto staged = collective(sys, op, bytes, group);
          const auto rounds = collective(sys, op, bytes, group + " --set workload.collective.expansion=rounds");
          INFO(net.name << " n=" << n << " " << op << " " << bytes);
          CHECK(staged["summary"]["expansion"] == "staged");
          CHECK(rounds["summary"]["expansion"] == "rounds");
          CHECK(staged["summary"]["rounds"] == rounds["summary"]["rounds"]);
          CHECK(std::abs(step_time(staged) / step_time(rounds) - 1) <= 1e-6);
          CHECK(staged["sim"]["events"].get<long>() < rounds["sim"]["events"].get<long>());
          ++compared;
        }
      }
    }
  }
  CHECK(compared == 3 * 4 * 5);
}

TEST_CASE("hierarchical_all_reduce_matches_the_hand_computed_time_on_two_nodes", "[collective]") {
  // 2 nodes x 4 GPUs. Inside a node every pair has its own 100 GB/s, 1 us link (one hop); every
  // GPU has a 50 GB/s, 2 us link to one switch joining the nodes (two hops across nodes).
  std::string links;
  for (int node = 0; node < 2; ++node)
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b) links += fmt::format("[d{}, d{}], ", 4 * node + a, 4 * node + b);
  for (int d = 0; d < 8; ++d)
    links += fmt::format("{{a: d{}, b: ib, bandwidth: 50 GB/s, latency: 2 us}}{}", d, d < 7 ? ", " : "");
  const std::string sys = system_file("two-nodes", 8, "{topology: graph, switches: [ib], link_bandwidth: 100 GB/s, link_latency: 1 us, links: [" + links + "]}");
  // S = 1 GB, m = 4, N = 2. Reduce-scatter and all-gather: 3 rounds each of S/4 = 250 MB over
  // 100 GB/s plus 1 us; inter-node all-reduce of 250 MB shards: 2 rounds of 125 MB over
  // 50 GB/s plus 2 x 2 us.
  const double hand = 6 * (1e-6 + 250e6 / 100e9) + 2 * (4e-6 + 125e6 / 50e9);
  for (const char* expansion : {"staged", "rounds"}) {
    const auto r = collective(sys, "all_reduce", "1 GB",
                              std::string("--set workload.collective.local_size=4 --set workload.collective.expansion=") + expansion);
    INFO(expansion);
    CHECK(r["summary"]["algorithm"] == "hierarchical");  // auto picks it: 1 < 4 < 8
    CHECK(step_time(r) == Approx(hand).epsilon(1e-6));
    CHECK(r["summary"]["rounds"] == 3 + 2 + 3);
  }
  // A flat ring crosses the slow links in every one of its 14 rounds of 125 MB.
  const auto flat = collective(sys, "all_reduce", "1 GB", "--set workload.collective.algorithm=ring");
  CHECK(step_time(flat) == Approx(14 * (4e-6 + 125e6 / 50e9)).epsilon(1e-6));
  CliResult bad = run_orrery("run --system " + sys + " --workload allreduce-1gib --set workload.collective.local_size=3 --set workload.collective.algorithm=hierarchical");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("local_size (3) to divide"));
}

TEST_CASE("all_to_all_v_follows_the_hottest_receiver_port", "[collective]") {
  // 4 ranks on a 100 GB/s switch; every rank sends 100 MB to each other rank except that rank 0
  // receives 200 MB from each: 600 MB into its port take 6 ms, every other port carries 300 or
  // 400 MB. Max-min: all 12 flows run at 33.3 GB/s until the 100 MB ones end at 3 ms; the three
  // into rank 0 then still share its port (3 x 100 MB left at 33.3 GB/s each): 6 ms.
  const std::string sys = system_file("switch4v", 4, "{topology: switch, link_bandwidth: 100 GB/s, link_latency: 0 us}");
  const std::string wl = workload_file("a2av", "{op: all_to_all_v, group: all, sizes: [[0, 100 MB, 100 MB, 100 MB], [200 MB, 0, 100 MB, 100 MB], [200 MB, 100 MB, 0, 100 MB], [200 MB, 100 MB, 100 MB, 0]]}");
  const auto r = run_report("--system " + sys + " --workload " + wl);
  CHECK(step_time(r) == Approx(6e-3).epsilon(1e-6));
  // nccl-tests convention with S = the mean bytes per rank (1,500 MB / 4).
  CHECK(r["summary"]["bytes"].get<double>() == Approx(375e6));
  CHECK(r["summary"]["busbw_GBps"].get<double>() == Approx(375e6 / 6e-3 * 3 / 4 / 1e9).epsilon(1e-6));
  // A uniform matrix is the plain all_to_all; the diagonal (a rank's own slot, which never
  // crosses the network) counts in S as nccl-tests counts it.
  const std::string uni = workload_file("a2av-uniform", "{op: all_to_all_v, sizes: [[1 MB, 1 MB, 1 MB, 1 MB], [1 MB, 1 MB, 1 MB, 1 MB], [1 MB, 1 MB, 1 MB, 1 MB], [1 MB, 1 MB, 1 MB, 1 MB]]}");
  const auto u = run_report("--system " + sys + " --workload " + uni);
  const auto a = collective(sys, "all_to_all", "4 MB");
  CHECK(step_time(u) == Approx(step_time(a)).epsilon(1e-9));
  CHECK(u["summary"]["busbw_GBps"].get<double>() == Approx(a["summary"]["busbw_GBps"].get<double>()).epsilon(1e-9));
  CliResult bad = run_orrery("run --system " + sys + " --workload " + workload_file("a2av-bad", "{op: all_to_all_v, sizes: [[0, 1 MB], [1 MB, 0]]}"));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("4 x 4 matrix"));
}

TEST_CASE("a_large_all_to_all_costs_events_per_flow_not_per_byte", "[collective]") {
  // 256 endpoints, 16 leaves x 16 ports of 196 GB/s, 16 spines (non-blocking; the ECMP hash
  // spreads every leaf's cross-leaf flows evenly over its uplinks): 65,280 flows of 1 MiB.
  // Every sender port is busy from the moment its intra-leaf flows start (2 hops of 1 us) to
  // the end: T = 2 us + 255 MiB / 196 GB/s.
  const std::string sys = system_file("clos256", 256, "{topology: fat_tree, leaf_size: 16, spines: 16, link_bandwidth: 196 GB/s, link_latency: 1 us}");
  const auto r = collective(sys, "all_to_all", "256 MiB");
  CHECK(step_time(r) == Approx(2e-6 + 255 * 1048576.0 / 196e9).epsilon(1e-6));
  CHECK(r["sim"]["flows"] == 256 * 255);
  CHECK(r["sim"]["events"].get<long>() <= 10);  // activations and completions coincide
}
