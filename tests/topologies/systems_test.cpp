// Multi-node systems: nodes, node-scoped planes, CPU endpoints, multi-rail Clos, and the
// h100-cluster-64 and cloudmatrix384 presets.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>

#include "sim/config/yaml_doc.h"
#include "sim/run/run.h"
#include "tests/support/run_cli.h"

using namespace orrery;
using namespace orrery::test;

namespace {

LoadedRun load(const std::string& system, const std::string& workload = "allreduce-1gib") {
  RunRequest req;
  req.system = system;
  req.workload = workload;
  return load_run(req);
}

const Plane& plane(const LoadedRun& run, const std::string& name) {
  for (const auto& p : run.planes)
    if (p.name == name) return p;
  FAIL("no plane " << name);
  throw;
}

std::string write_system(const std::string& name, const std::string& body) {
  const std::string path = "/tmp/orrery-test-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

}  // namespace

TEST_CASE("a_node_scoped_plane_joins_only_devices_of_the_same_node", "[systems]") {
  const auto run = load("h100-cluster-64");
  CHECK(run.devices == 64);
  CHECK(run.devices_per_node == 8);
  CHECK(run.nodes == 8);
  const Plane& nv = plane(run, "nvlink");
  CHECK(nv.scope == "node");
  CHECK(nv.connects(EndpointId{8}, EndpointId{15}));
  CHECK_FALSE(nv.connects(EndpointId{7}, EndpointId{8}));
  CHECK_FALSE(nv.must_connect(EndpointId{7}, EndpointId{8}));
  CHECK_THROWS_AS(nv.route(EndpointId{7}, EndpointId{8}), std::out_of_range);
  CHECK(nv.nodes[static_cast<size_t>(nv.device_node(EndpointId{29}))].name == "n3.d5");
  CHECK(nv.route(EndpointId{24}, EndpointId{29}).size() == 2);
  const Plane& ib = plane(run, "infiniband");
  CHECK(ib.connects(EndpointId{7}, EndpointId{8}));
  CHECK(ib.route(EndpointId{0}, EndpointId{63}).size() == 4);  // GPU -> leaf -> spine -> leaf -> GPU
  CHECK(ib.route(EndpointId{0}, EndpointId{7}).size() == 2);   // same leaf
}

TEST_CASE("a_collective_across_nodes_on_a_node_scoped_plane_is_a_clear_error", "[systems]") {
  CliResult r = run_orrery("run --system h100-cluster-64 --workload allreduce-1gib "
                           "--set workload.collective.plane=nvlink --set 'workload.collective.group=[6, 7, 8, 9]'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("devices 6 (n0.d6) and 8 (n1.d0) are not connected by plane 'nvlink'") &&
                        Catch::Contains("scope: node"));
  // Inside one node the same plane works, and is chosen by default.
  const auto in_node = run_report("--system h100-cluster-64 --workload allreduce-1gib --set 'workload.collective.group=[8, 9, 10, 11, 12, 13, 14, 15]'");
  CHECK(in_node["summary"]["plane"] == "nvlink");
}

TEST_CASE("h100_cluster_64_all_reduce_across_nodes_runs_one_ring_per_nic", "[systems]") {
  // group: all spans 8 nodes: the collective plane is infiniband, and the ring runs as NCCL's
  // rings, one per NIC, inside each node on NVLink (sim/run/multi_node_ring.h). Every GPU's
  // NIC carries one ring's hop: 2(n-1)/n x S / 8, so busbw <= 8 NICs x 400 Gb/s x 0.93.
  const double S = 1073741824.0, n = 64, hop = 2 * (n - 1) / n * S / 8;
  const auto r = run_report("--system h100-cluster-64 --workload allreduce-1gib");
  CHECK(r["summary"]["plane"] == "infiniband");
  CHECK(r["summary"]["scale_up_plane"] == "nvlink");
  CHECK(r["summary"]["ranks"] == 64);
  const double busbw = r["summary"]["busbw_GBps"];
  INFO("busbw " << busbw << " GB/s");
  CHECK(busbw <= 8 * 50.0 * 0.93 * 1.0001);
  CHECK(busbw >= 0.9 * 8 * 50.0 * 0.93);
  // Byte conservation, link by link (the large size runs Simple: wire bytes = payload): each
  // GPU sends one ring's hop through its NIC and (8 - 1) hops over NVLink.
  REQUIRE(r["summary"]["protocol"] == "simple");
  int nics = 0, ports = 0;
  for (const auto& l : r["links"]) {
    const std::string from = l["from"], to = l["to"];
    if (from.find(".d") == std::string::npos) continue;  // switch -> switch or switch -> GPU
    if (l["plane"] == "infiniband") {
      CHECK(l["bytes"].get<double>() == Approx(hop).epsilon(1e-9));
      ++nics;
    } else {
      CHECK(l["bytes"].get<double>() == Approx(7 * hop).epsilon(1e-9));
      ++ports;
    }
  }
  CHECK(nics == 64);
  CHECK(ports == 64);
  // Latency by hand, 2 nodes x 8 GPUs, 8 bytes (LL): a chunk crosses k = 2(n-1) = 30 steps,
  // k_out = 2(N-1) = 2 of them between nodes. NVLink step: its 2 x 0.3 us path + LL's 0 us;
  // InfiniBand step: its 4 x 1 us path (no protocols declared). L = 6.6 + 28 x 0.6 + 2 x 4 us.
  const auto tiny = run_report("--system h100-cluster-64 --set system.devices=16 --workload allreduce-1gib "
                               "--set 'workload.collective.bytes=8 B'");
  CHECK(tiny["summary"]["protocol"] == "ll");
  CHECK(tiny["summary"]["step_time_s"].get<double>() == Approx((6.6 + 28 * 0.6 + 2 * 4.0) * 1e-6).epsilon(0.01));
  // A plane named explicitly runs the flat ring on it alone: every hop through the NICs, so
  // busbw <= one NIC.
  const auto named = run_report("--system h100-cluster-64 --workload allreduce-1gib --set workload.collective.plane=infiniband");
  CHECK(named["summary"]["scale_up_plane"] == "none");
  CHECK(named["summary"]["busbw_GBps"].get<double>() <= 50.0 * 0.93 * 1.0001);
  CHECK(named["summary"]["busbw_GBps"].get<double>() >= 0.9 * 50.0 * 0.93);
}

TEST_CASE("hierarchical_all_reduce_across_nodes_keeps_its_intra_node_stages_on_nvlink", "[systems]") {
  // 2 nodes x 8 GPUs, local_size 8: reduce-scatter and all-gather inside each node on NVLink
  // ((m-1)/m x S each way per GPU), the all-reduce of each S/m shard between the nodes on
  // InfiniBand (2(N-1)/N x S/m per GPU). Bytes by hand, link by link (Simple: payload).
  const double S = 1073741824.0, m = 8, N = 2;
  const std::string args = "--system h100-cluster-64 --set system.devices=16 --workload allreduce-1gib "
                           "--set workload.collective.local_size=8";
  const auto r = run_report(args);
  CHECK(r["summary"]["algorithm"] == "hierarchical");
  CHECK(r["summary"]["scale_up_plane"] == "nvlink");
  REQUIRE(r["summary"]["protocol"] == "simple");
  int nics = 0, ports = 0;
  for (const auto& l : r["links"]) {
    const std::string from = l["from"];
    if (from.find(".d") == std::string::npos) continue;
    if (l["plane"] == "infiniband") {
      CHECK(l["bytes"].get<double>() == Approx(2 * (N - 1) / N * S / m).epsilon(1e-9));
      ++nics;
    } else {
      CHECK(l["bytes"].get<double>() == Approx(2 * (m - 1) / m * S).epsilon(1e-9));
      ++ports;
    }
  }
  CHECK(nics == 16);
  CHECK(ports == 16);
  // On the InfiniBand plane alone (named), the intra-node stages go through the NICs: slower.
  const auto flat = run_report(args + " --set workload.collective.plane=infiniband");
  CHECK(flat["summary"]["scale_up_plane"] == "none");
  CHECK(flat["summary"]["step_time_s"].get<double>() > 3 * r["summary"]["step_time_s"].get<double>());
}

TEST_CASE("cloudmatrix384_has_768_dies_192_cpus_and_112_l2_chips", "[systems]") {
  const auto run = load("cloudmatrix384", "point-to-point");
  CHECK(run.devices == 768);
  CHECK(run.nodes == 48);
  CHECK(run.cpus_per_node == 4);
  CHECK(run.shape.cpus() == 192);
  CHECK(run.device.name == "ascend-910c-die");
  const Plane& ub = plane(run, "ub");
  int l2 = 0, l1 = 0, cpus = 0;
  for (const auto& n : ub.nodes) {
    if (n.name.find("spine") != std::string::npos) ++l2;
    if (n.name.find(".leaf.r") != std::string::npos) ++l1;
    if (n.device.valid() && run.shape.is_cpu(n.device.value)) ++cpus;
  }
  CHECK(l2 == 7 * 16);
  CHECK(l1 == 48 * 7);
  CHECK(cpus == 192);
  CHECK(ub.spread);
  // Each die: 7 ports x 28 GB/s; each L1 chip: 16 uplinks x 28 GB/s.
  const int die = ub.device_node(EndpointId{100});
  double die_out = 0, l1_up = 0;
  int l1_node = -1;
  for (const auto& l : ub.links)
    if (l.from == die) die_out += l.bandwidth, l1_node = l.to;
  for (const auto& l : ub.links)
    if (l.from == l1_node && ub.nodes[static_cast<size_t>(l.to)].name.find("spine") != std::string::npos) l1_up += l.bandwidth;
  CHECK(die_out == Approx(196e9));
  CHECK(l1_up == Approx(448e9));
  CHECK(ub.nodes[static_cast<size_t>(ub.device_node(EndpointId{run.shape.cpu_endpoint(3, 1)}))].name == "n3.cpu1");
  CHECK(ub.connects(EndpointId{0}, EndpointId{run.shape.cpu_endpoint(47, 3)}));
  // RDMA: dies only; VPC: the node's dies share one 400 Gb/s uplink.
  const Plane& rdma = plane(run, "rdma");
  CHECK_FALSE(rdma.has_endpoint(EndpointId{run.shape.cpu_endpoint(0, 0)}));
  CHECK(rdma.connects(EndpointId{0}, EndpointId{767}));
  const Plane& vpc = plane(run, "vpc");
  CHECK(vpc.route(EndpointId{0}, EndpointId{16}).size() == 4);
  CHECK(std::find(vpc.traffic.begin(), vpc.traffic.end(), "storage") != vpc.traffic.end());
}

TEST_CASE("cloudmatrix384_node_to_node_all_to_all_is_non_blocking", "[systems]") {
  // Two whole nodes (32 dies): each die sends 31/32 of S through its 7 x 28 GB/s ports at the
  // plane's efficiency; the L1 -> L2 stage adds nothing (no oversubscription).
  std::string group = "[";
  for (int i = 0; i < 32; ++i) group += fmt::format("{}{}", i ? ", " : "", i);
  group += "]";
  const auto r = run_report("--system cloudmatrix384 --workload allreduce-1gib --set workload.collective.op=all_to_all "
                            "--set 'workload.collective.bytes=256 MiB' --set 'workload.collective.group=" + group + "'");
  CHECK(r["summary"]["plane"] == "ub");
  const double ideal = (31.0 / 32.0) * 256 * 1048576 / (196e9 * 0.6835);
  CHECK(r["summary"]["step_time_s"].get<double>() == Approx(ideal).epsilon(0.01));
}

TEST_CASE("a_multi_rail_clos_spreads_a_transfer_over_its_rails", "[systems]") {
  // 4 nodes x 2 devices + 1 CPU each, 3 rails x 1 spine; uplinks as given.
  const std::string sys = write_system("rails", R"(name: rails
device: h100-sxm
devices: 8
devices_per_node: 2
cpus_per_node: 1
planes:
  net:
    topology: fat_tree
    cpus: true
    leaf_size: 3
    rails: 3
    spines: 1
    link_bandwidth: 10 GB/s
    cpu_link_bandwidth: 5 GB/s
    uplink_bandwidth: 14 GB/s
    link_latency: 0 us
)");
  const auto run = load(sys);
  const Plane& p = run.planes.front();
  const int cpu = run.shape.cpu_endpoint(0, 0);
  CHECK(run.shape.name(cpu) == "n0.cpu0");
  CHECK(run.shape.find("n2.d1") == 5);
  CHECK(p.routes(EndpointId{0}, EndpointId{7}).size() == 3);
  CHECK(p.routes(EndpointId{0}, EndpointId{1}).front().size() == 2);
  CHECK(p.nodes[static_cast<size_t>(p.link(p.routes(EndpointId{0}, EndpointId{7})[1][0]).to)].name == "n0.leaf.r1");
  for (const auto& l : p.links)
    if (l.from == p.device_node(EndpointId{cpu})) CHECK(l.bandwidth == Approx(5e9));
  // send_recv from every device to the next node's same device: each crosses the spines;
  // 3 rails x 10 GB/s per device, but one 14 GB/s uplink per leaf for 2 devices: 7 GB/s per
  // device per rail, 21 GB/s per device.
  const auto r = run_report("--system " + sys + " --workload allreduce-1gib --set workload.collective.op=send_recv "
                            "--set 'workload.collective.bytes=2.1 GB' --set 'workload.collective.group=[0, 2, 4, 6, 1, 3, 5, 7]'");
  CHECK(r["summary"]["step_time_s"].get<double>() == Approx(0.1).epsilon(0.01));
}

TEST_CASE("folding_identical_rails_gives_the_times_and_link_bytes_of_simulating_every_rail", "[systems]") {
  // 4 leaf groups of 4 endpoints, 3 rails x 2 spines, 2:1 oversubscribed: contention on uplinks.
  const std::string base = R"(name: fold
device: h100-sxm
devices: 16
planes:
  net:
    topology: fat_tree
    leaf_size: 4
    rails: 3
    spines: 2
    oversubscription: 2
    link_bandwidth: 10 GB/s
    link_latency: 1 us
)";
  const std::string folded = write_system("fold1", base);
  const std::string every = write_system("fold0", base + "    fold_rails: false\n");
  for (const std::string op : {"all_to_all", "all_reduce", "send_recv"}) {
    const std::string w = " --workload allreduce-1gib --set workload.collective.op=" + op +
                          " --set 'workload.collective.bytes=96 MB'";
    const auto a = run_report("--system " + folded + w);
    const auto b = run_report("--system " + every + w);
    INFO(op);
    CHECK(a["summary"]["step_time_s"].get<double>() == Approx(b["summary"]["step_time_s"].get<double>()).epsilon(1e-9));
    REQUIRE(a["links"].size() == b["links"].size());
    double bytes_a = 0, bytes_b = 0;
    for (const auto& l : a["links"]) bytes_a += l["bytes"].get<double>();
    for (const auto& l : b["links"]) bytes_b += l["bytes"].get<double>();
    CHECK(bytes_a == Approx(bytes_b).epsilon(1e-9));
  }
}
