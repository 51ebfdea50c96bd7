// Micro-batch overlap on partitioned cores (workload `overlap:`): the partition's kernel
// costs, that no engine ever runs two kernels at once, that the two streams do overlap, and
// that the overlap moves work in time without adding or dropping any.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <vector>

#include "hw/core_partition.h"
#include "hw/kernel_cost.h"
#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "tests/support/run_cli.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;
using namespace orrery::test;

namespace {

DeviceSpec die() {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  return read_device(load_preset(PresetKind::Device, "ascend-910c-die", ctx, "device"), "device");
}

const std::string kDecode =
    "--system cloudmatrix384 --set system.devices=32 --workload deepseek-r1-decode-cm384 "
    "--set workload.parallel.ep=32 --set workload.moe.shared_replicas=0 "
    "--set workload.moe.redundant_experts=0 --set workload.batch=16 --set workload.seq_len=1024 ";

}  // namespace

TEST_CASE("a_partition_has_its_share_of_units_and_peak", "[overlap]") {
  const DeviceSpec d = die();
  const DeviceSpec p = partition_spec(d, {"attention", 16, 32});
  CHECK(p.matrix_engine().units == 16);
  CHECK(p.matrix_engine().peak.at(Dtype::int8) == Approx(d.matrix_engine().peak.at(Dtype::int8) * 16 / 24));
  CHECK(p.vector_engine().peak.at(Dtype::fp32) == Approx(d.vector_engine().peak.at(Dtype::fp32) * 32 / 48));
  CHECK(p.memory.front().bandwidth == d.memory.front().bandwidth);  // memory is shared, not split
  // A large compute-bound GEMM takes 24/8 = 3x as long on 8 of the 24 cube cores.
  const Op g = make_gemm("g", 4096, 4096, 4096, Dtype::int8);
  const DeviceSpec ffn = partition_spec(d, {"ffn", 8, 16});
  CHECK(kernel_cost(ffn, g).compute_s == Approx(3 * kernel_cost(d, g).compute_s).epsilon(0.02));
  CHECK_THROWS_AS(partition_spec(d, {"attention", 25, 32}), ConfigError);
  CHECK_THROWS_AS(check_disjoint(d, {{"attention", 16, 32}, {"ffn", 16, 16}}), ConfigError);
  CHECK_NOTHROW(check_disjoint(d, {{"attention", 16, 32}, {"ffn", 8, 16}}));
}

TEST_CASE("overlapped_streams_never_overcommit_an_engine_and_do_overlap", "[overlap][moe]") {
  const auto r = run_report_ops(kDecode);
  std::map<std::string, std::vector<std::pair<double, double>>> busy;  // engine -> intervals
  for (const auto& op : r["ops"]) {
    const std::string e = op["engine"];
    if (e == "network" || e == "host") continue;
    busy[e].push_back({op["start_s"].get<double>(), op["end_s"].get<double>()});
  }
  REQUIRE(busy.count("tensor[attention]"));
  REQUIRE(busy.count("tensor[ffn]"));
  for (auto& [e, v] : busy) {
    std::sort(v.begin(), v.end());
    for (size_t i = 1; i < v.size(); ++i) {
      INFO(e << " runs two kernels at once at " << v[i].first);
      CHECK(v[i].first >= v[i - 1].second - 1e-12);
    }
  }
  // The whole-device matrix engine (head, MTP) never runs beside a partition's.
  for (const auto& [a, b] : busy["tensor"])
    for (const char* part : {"tensor[attention]", "tensor[ffn]"})
      for (const auto& [c, d] : busy[part]) CHECK((b <= c + 1e-12 || d <= a + 1e-12));
  // Some attention kernel runs while some feed-forward kernel runs: the streams overlap.
  double overlap = 0;
  for (const auto& [a, b] : busy["tensor[attention]"])
    for (const auto& [c, d] : busy["tensor[ffn]"]) overlap += std::max(0.0, std::min(b, d) - std::max(a, c));
  CHECK(overlap > 0);
}

TEST_CASE("overlap_moves_work_in_time_without_adding_or_dropping_any", "[overlap][moe]") {
  // Mixtral EP8 on a DGX H100, two micro-batches: one after the other on the whole device, or
  // overlapped on two halves of the SMs. The same ops (count, FLOPs, bytes) either way.
  const std::string base = "--system dgx-h100 --workload examples/mixtral-tp-vs-ep/decode.yaml "
                           "--set workload.parallel.ep=8 --set workload.batch=16 "
                           "--set workload.parallel.microbatches=2 ";
  const auto off = run_report_ops(base);
  const auto on = run_report_ops(base + "--set workload.overlap.attention.matrix_units=66 "
                                        "--set workload.overlap.attention.vector_units=66 "
                                        "--set workload.overlap.ffn.matrix_units=66 "
                                        "--set workload.overlap.ffn.vector_units=66");
  auto totals = [](const nlohmann::json& r) {
    double flops = 0, bytes = 0;
    for (const auto& op : r["ops"]) flops += op["flops"].get<double>(), bytes += op["bytes"].get<double>();
    return std::make_tuple(r["ops"].size(), flops, bytes);
  };
  const auto [n_on, f_on, b_on] = totals(on);
  const auto [n_off, f_off, b_off] = totals(off);
  CHECK(n_on == n_off);
  CHECK(f_on == Approx(f_off).epsilon(1e-12));
  CHECK(b_on == Approx(b_off).epsilon(1e-12));
  // Every layer op ran on a partition, the rest on the whole device.
  int on_partition = 0;
  for (const auto& op : on["ops"]) {
    const std::string e = op["engine"];
    if (e.find('[') != std::string::npos) {
      ++on_partition;
      CHECK(op["layer"].get<int>() >= 0);
    }
  }
  CHECK(on_partition > 0);
}

TEST_CASE("overlap_needs_micro_batches_and_disjoint_partitions", "[overlap][config]") {
  const std::string base = "run --system dgx-h100 --workload examples/mixtral-tp-vs-ep/decode.yaml "
                           "--set workload.parallel.ep=8 --set workload.batch=16 ";
  const std::string parts = "--set workload.overlap.attention.matrix_units=66 --set workload.overlap.attention.vector_units=66 "
                            "--set workload.overlap.ffn.matrix_units=100 --set workload.overlap.ffn.vector_units=66 ";
  const auto one = run_orrery(base + parts);
  CHECK(one.exit_code == 2);
  CHECK(one.err.find("parallel.microbatches >= 2") != std::string::npos);
  const auto over = run_orrery(base + parts + "--set workload.parallel.microbatches=2");
  CHECK(over.exit_code == 2);
  CHECK(over.err.find("166 matrix") != std::string::npos);
}

TEST_CASE("moe_breakdown_shows_the_overlap_and_what_communication_it_hides", "[overlap][moe][report]") {
  const std::string base = "--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384 ";
  const auto on = run_report(base);
  const auto off = run_report(base + "--set workload.overlap.enabled=false");
  const auto& b_on = on["moe"]["breakdown"];
  const auto& b_off = off["moe"]["breakdown"];
  // The same transfers either way; overlapped, the attention stream hides most of them.
  CHECK(b_on["expert_comm_s"].get<double>() == Approx(b_off["expert_comm_s"].get<double>()).epsilon(0.01));
  CHECK(b_on["exposed_comm_s"].get<double>() < 0.1 * b_off["exposed_comm_s"].get<double>());
  CHECK(b_off["exposed_comm_s"].get<double>() <= b_off["expert_comm_s"].get<double>() * (1 + 1e-9));
  CHECK(b_on["overlap_s"].get<double>() > 0);
  CHECK(b_off["overlap_s"].get<double>() == 0);
  // Without overlap, nothing runs beside the transfers: all of their time is exposed.
  CHECK(b_off["exposed_comm_s"].get<double>() == Approx(b_off["expert_comm_s"].get<double>()).epsilon(1e-6));
  // The parts add up to the MoE layers' op time: 58 layers x parts <= the step's op time.
  double parts = 0;
  for (const auto& [k, v] : b_off["per_moe_layer"].items()) parts += v.get<double>();
  CHECK(parts * 58 < off["summary"]["step_time_s"].get<double>());
  CHECK(parts * 58 > 0.8 * off["summary"]["step_time_s"].get<double>());
}

TEST_CASE("shared_cores_overlap_hides_one_micro_batch_s_transfers_behind_the_other_s_compute", "[overlap][moe]") {
  // Two streams taking turns on 112 of an H800's 132 SMs (the rest left to communication):
  // the network-bound prefill gets shorter than with the micro-batches one after the other.
  const std::string base = "--system h800-cluster --set system.devices=32 --workload tests/data/workloads/deepseek-v3-prefill-h800.yaml ";
  const auto on = run_report_ops(base);
  const auto off = run_report(base + "--set workload.overlap.enabled=false");
  CHECK(on["summary"]["step_time_s"].get<double>() < 0.95 * off["summary"]["step_time_s"].get<double>());
  CHECK(on["moe"]["breakdown"]["exposed_comm_s"].get<double>() < off["moe"]["breakdown"]["exposed_comm_s"].get<double>());
  // One partition only: both streams' kernels on tensor[attention] / cuda[attention], never two at once.
  std::vector<std::pair<double, double>> busy;
  for (const auto& op : on["ops"]) {
    const std::string e = op["engine"];
    CHECK(e.find("[ffn]") == std::string::npos);
    if (e == "tensor[attention]") busy.push_back({op["start_s"].get<double>(), op["end_s"].get<double>()});
  }
  REQUIRE(busy.size() > 100);
  std::sort(busy.begin(), busy.end());
  for (size_t i = 1; i < busy.size(); ++i) CHECK(busy[i].first >= busy[i - 1].second - 1e-12);
}

namespace {

double start(const nlohmann::json& op) { return op["start_s"].get<double>(); }
double end(const nlohmann::json& op) { return op["end_s"].get<double>(); }

/// The ops of one layer whose name ends in `tail`, in the order they started.
std::vector<nlohmann::json> layer_ops(const nlohmann::json& report, const std::string& layer, const std::string& tail) {
  std::vector<nlohmann::json> out;
  for (const auto& op : report["ops"]) {
    const std::string n = op["name"];
    if (n.rfind(layer + ".", 0) == 0 && n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0)
      out.push_back(op);
  }
  std::sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["start_s"].get<double>() < b["start_s"].get<double>();
  });
  return out;
}

}  // namespace

TEST_CASE("shared_cores_give_each_micro_batch_its_own_moe_stream_and_the_oldest_ready_kernel_runs_first", "[overlap][moe]") {
  // DeepSeek-V3 decode on 144 H800 (DeepEP's low-latency kernels run from the NICs): micro-batch
  // 1's dispatch goes out while micro-batch 0's combine is still in flight, and micro-batch 0's
  // experts, ready once its dispatch landed, run before the rest of micro-batch 1's attention.
  const auto r = run_report_ops("--system h800-cluster --set system.devices=144 "
                                "--workload tests/data/workloads/deepseek-v3-decode-h800.yaml");
  const auto dispatch = layer_ops(r, "h30", ".moe.dispatch"), combine = layer_ops(r, "h30", ".moe.combine");
  REQUIRE(dispatch.size() == 2);
  REQUIRE(combine.size() == 2);
  CHECK(start(dispatch[1]) < end(combine[0]));
  CHECK(end(dispatch[1]) > start(combine[0]));
  const auto sdpa = layer_ops(r, "h30", ".attn.sdpa"), w_uv = layer_ops(r, "h30", ".attn.w_uv");
  const auto experts = layer_ops(r, "h30", ".moe.experts.gate_up");
  REQUIRE(sdpa.size() == 2);
  REQUIRE(w_uv.size() == 2);
  REQUIRE(experts.size() == 2);
  REQUIRE(end(dispatch[0]) < end(sdpa[1]));  // micro-batch 0's tokens arrived during micro-batch 1's attention
  CHECK(start(experts[0]) >= end(sdpa[1]) - 1e-12);
  CHECK(start(experts[0]) < start(w_uv[1]));
  // Overlapping transfers count once in the network's busy time: no resource is busy more
  // than the whole step.
  for (const auto& b : r["bottlenecks"]) {
    INFO(b["resource"].get<std::string>());
    CHECK(b["busy_fraction"].get<double>() <= 1 + 1e-9);
  }
}

TEST_CASE("split_cores_keep_one_moe_stream_whose_transfers_never_overlap", "[overlap][moe]") {
  // A 910C die's MoE stream drives its own dispatch and combine from its vector cores: the two
  // micro-batches' transfers take turns.
  const auto r = run_report_ops(kDecode);
  std::vector<std::pair<double, double>> net;
  for (const auto& op : r["ops"])
    if (op["engine"] == "network") net.push_back({start(op), end(op)});
  REQUIRE(net.size() > 100);
  std::sort(net.begin(), net.end());
  for (size_t i = 1; i < net.size(); ++i) CHECK(net[i].first >= net[i - 1].second - 1e-12);
}
