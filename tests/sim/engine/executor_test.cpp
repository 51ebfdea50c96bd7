// Executor behaviour on hand-built graphs with hand-computed answers. Each TEST_CASE runs in
// its own process (catch_discover_tests), so each gets a fresh SystemC kernel.
#include "sim/run/simulation.h"

#include <catch2/catch.hpp>

#include "sim/config/yaml_doc.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;

namespace {

using SimResult = RankResult;

/// Runs `graph` as the one rank of a one-device system (no planes).
SimResult simulate(const DeviceSpec& d, OpGraph graph, Framework framework) {
  static const std::vector<Plane> no_planes;
  static std::unique_ptr<GraphSource> source;  // outlives the result, which points at it
  source = std::make_unique<GraphSource>(std::move(graph));
  Simulation sim(d, framework, no_planes, ParallelSpec{}, {{0, 0, source.get()}});
  SimulationResult r = sim.run();
  return std::move(r.ranks.front());
}

DeviceSpec test_device(int queue_depth = 1024) {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  DeviceSpec d = read_device(load_preset(PresetKind::Device, "h100-sxm", ctx, "device"), "device");
  d.kernel_overhead = 0;
  d.host.launch_eager = 10e-6;
  d.host.module_call = 0;
  d.host.launch_library = 0;
  d.host.gemm_dispatch = 0;
  d.host.queue_depth = queue_depth;
  d.host.submit_latency = 0;
  d.launch_latency = 0;
  for (auto& level : d.memory) level.latency = 0;
  return d;
}

Op streaming(const std::string& name, double bytes, int stream) {
  Op op = make_vector(name, "copy", bytes / 4, 4, 0, Dtype::bf16);
  op.stream = stream;
  return op;
}

}  // namespace

TEST_CASE("two_concurrent_memory_bound_kernels_each_get_half_the_bandwidth", "[engine]") {
  const DeviceSpec d = test_device();
  OpGraph g;
  const double bytes = 4e9;  // far above L2: served by HBM
  g.add(streaming("a", bytes, 0));
  Op b = streaming("b", bytes, 1);
  b.kind = OpKind::Gemm;  // a different engine, so both run at once
  b.gemm = {1, 1, 1, 1};
  b.flops = 0;
  g.add(b);
  const SimResult r = simulate(d, g, Framework::eager);
  const double alone = bytes / d.backing_memory().sustained();
  // a starts after its launch (10 us), b 10 us later; from then on they share HBM, which
  // stays busy until both are done: 10 us + 2 * alone.
  CHECK(r.records[0].end - r.records[0].start > 1.9 * alone);
  CHECK(r.makespan == Approx(10e-6 + 2 * alone).epsilon(0.001));
}

TEST_CASE("launch_bound_kernels_take_one_launch_each", "[engine]") {
  const DeviceSpec d = test_device();
  GraphBuilder b;
  for (int i = 0; i < 100; ++i) b.add(make_vector("tiny", "add", 256, 4, 1, Dtype::bf16));
  const OpGraph g = b.take();
  const SimResult r = simulate(d, g, Framework::eager);
  CHECK(r.makespan == Approx(100 * 10e-6).epsilon(0.01));
  CHECK(r.records[50].waited == WaitReason::Host);
}

DeviceSpec latency_device() {
  DeviceSpec d = test_device();
  d.host.submit_latency = 8e-6;
  d.host.sync = 5e-6;
  return d;
}

TEST_CASE("a_stream_of_eager_launches_pays_the_submit_latency_once", "[engine]") {
  // 100 tiny kernels, 10 us of host time each, 8 us from launch to device: the latencies
  // overlap the next launches, so the stream takes 100 x 10 us + 8 us (plus the last kernel's
  // few ns), not 100 x 18 us.
  GraphBuilder b;
  for (int i = 0; i < 100; ++i) b.add(make_vector("tiny", "add", 256, 4, 1, Dtype::bf16));
  const SimResult r = simulate(latency_device(), b.take(), Framework::eager);
  CHECK(r.makespan == Approx(100 * 10e-6 + 8e-6).epsilon(0.001));
  CHECK(r.records[0].start == Approx(10e-6 + 8e-6));
}

TEST_CASE("a_sync_makes_the_next_launch_pay_the_submit_latency_again", "[engine]") {
  // A sync after kernel 50 drains the device: the host waits for it, spends host.sync (5 us),
  // and the first launch after it reaches an idle device 8 us after its launch.
  GraphBuilder b;
  for (int i = 0; i < 100; ++i) {
    b.add(make_vector("tiny", "add", 256, 4, 1, Dtype::bf16));
    if (i == 49) b.sync_last();
  }
  const SimResult r = simulate(latency_device(), b.take(), Framework::eager);
  CHECK(r.makespan == Approx(100 * 10e-6 + 2 * 8e-6 + 5e-6).epsilon(0.001));
}

TEST_CASE("graph_replay_removes_most_launch_cost", "[engine]") {
  const DeviceSpec d = test_device();
  GraphBuilder b;
  for (int i = 0; i < 100; ++i) b.add(make_vector("tiny", "add", 256, 4, 1, Dtype::bf16));
  const SimResult r = simulate(d, b.take(), Framework::graph);
  CHECK(r.makespan < 100 * 10e-6 / 3);
}

/// Ten 1 GB copies back to back on one stream; returns the makespan and one kernel's time.
std::pair<double, double> ten_copies(int queue_depth, WaitReason* fifth_waited) {
  const DeviceSpec d = test_device(queue_depth);
  GraphBuilder b;
  const double bytes = 1e9;
  for (int i = 0; i < 10; ++i) b.add(streaming("s", bytes, 0));
  const SimResult r = simulate(d, b.take(), Framework::eager);
  *fifth_waited = r.records[5].waited;
  return {r.makespan, bytes / d.backing_memory().sustained()};
}

TEST_CASE("a_synchronous_launch_queue_adds_host_and_device_time", "[engine]") {
  WaitReason waited;
  const auto [makespan, kernel] = ten_copies(1, &waited);
  CHECK(makespan == Approx(10 * (10e-6 + kernel)).epsilon(0.001));
  CHECK(waited == WaitReason::Host);
}

TEST_CASE("an_asynchronous_launch_queue_hides_launches_behind_long_kernels", "[engine]") {
  WaitReason waited;
  const auto [makespan, kernel] = ten_copies(1024, &waited);
  CHECK(makespan == Approx(10e-6 + 10 * kernel).epsilon(0.001));
  CHECK(waited == WaitReason::Stream);
}

TEST_CASE("event_count_grows_with_ops_not_bytes", "[engine]") {
  const DeviceSpec d = test_device();
  GraphBuilder b;
  for (int i = 0; i < 50; ++i) b.add(streaming("s", 1e12, 0));  // a terabyte each
  const SimResult r = simulate(d, b.take(), Framework::eager);
  CHECK(r.events <= 50 * 4 + 4);
}
