// Every example under examples/ runs, and shows what its README says it shows.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("example_gpt2_xl_training_h200_beats_h100_beats_a100", "[examples]") {
  const std::string w = "--workload examples/gpt2-xl-training/train.yaml";
  const double a100 = run_report("--system a100-sxm-80gb " + w)["summary"]["step_time_s"];
  const double h100 = run_report("--system h100-sxm " + w)["summary"]["step_time_s"];
  const double h200 = run_report("--system h200-sxm " + w)["summary"]["step_time_s"];
  CHECK(h200 < h100);
  CHECK(h100 < a100);
  CHECK(a100 / h100 > 1.5);
}

TEST_CASE("example_decode_is_memory_bound_at_batch_1_and_less_so_at_64", "[examples]") {
  const std::string base = "--system h100-sxm --workload examples/decode-memory-bound/decode.yaml";
  const nlohmann::json b1 = run_report(base);
  const nlohmann::json b64 = run_report(base + " --set workload.batch=64");
  auto share = [](const nlohmann::json& r, const std::string& res) {
    for (const auto& b : r["bottlenecks"])
      if (b["resource"] == res) return b["critical_path_share"].get<double>();
    return 0.0;
  };
  // Batch 1 streams the weights through ~600 small kernels replayed from a graph: the
  // critical path is weight reads and per-kernel fixed device costs (graph gaps, GEMM pipeline
  // fill, split-K fixups, decode attention latency; fitted on graph-replayed H200 rows), not math.
  // The rest is the row reductions' per-row latency on the vector engine (`cuda`): LayerNorm
  // over one 1,600-wide row and the argmax over the vocabulary run one block per row.
  CHECK(share(b1, "hbm") + share(b1, "kernel overhead") > 0.8);
  CHECK(share(b1, "hbm") + share(b1, "kernel overhead") + share(b1, "cuda") > 0.95);
  CHECK(share(b1, "hbm") > share(b1, "tensor"));
  // 64 sequences share each weight read: 64x the tokens for far less than 64x the time.
  const double t1 = b1["summary"]["tpot_s"], t64 = b64["summary"]["tpot_s"];
  CHECK(t64 < 4 * t1);
  CHECK(b64["summary"]["mfu"].get<double>() > 10 * b1["summary"]["mfu"].get<double>());
}

TEST_CASE("example_genslm_long_sequences_shift_work_to_attention", "[examples]") {
  const std::string base = "--system h100-sxm --workload examples/genslm-sequence-length/train.yaml";
  const nlohmann::json s2k = run_report(base);
  const nlohmann::json s10k = run_report(base + " --set workload.seq_len=10240 --set workload.model.max_positions=10240");
  auto attention_share = [](const nlohmann::json& r) {
    double attn = 0;
    for (const auto& kind : r["op_kinds"])
      if (kind["category"].get<std::string>().rfind("attention", 0) == 0) attn += kind["flops"].get<double>();
    return attn / r["summary"]["model_flops"].get<double>();
  };
  CHECK(attention_share(s10k) > 3 * attention_share(s2k));
  CHECK(s10k["summary"]["mfu"].get<double>() > s2k["summary"]["mfu"].get<double>());
  CHECK(s10k["summary"]["peak_memory_bytes"].get<double>() > s2k["summary"]["peak_memory_bytes"].get<double>());
}

TEST_CASE("example_gradient_accumulation_shrinks_the_all_reduce_share", "[examples]") {
  const std::string base = "--system dgx-h100 --workload examples/gradient-accumulation/train.yaml";
  double previous = 1;
  double comm_1 = 0;
  for (int k : {1, 4, 32}) {
    const auto r = run_report(base + " --set workload.grad_accum=" + std::to_string(k));
    const double comm = r["summary"]["comm_s"], step = r["summary"]["step_time_s"];
    if (k == 1) comm_1 = comm;
    CHECK(comm == Approx(comm_1).epsilon(1e-6));  // one reduction per optimizer step
    CHECK(comm / step < previous);
    previous = comm / step;
  }
  CHECK(previous < 0.01);
}

TEST_CASE("example_genslm_25b_needs_model_parallelism_on_a_dgx", "[examples]") {
  const std::string base = "--system dgx-h100 --workload examples/genslm-25b-tp-vs-dp/train.yaml";
  const auto dp = run_orrery("run " + base + " --set workload.parallel.tp=1 --set workload.parallel.pp=1 "
                             "--set workload.parallel.microbatches=1");
  CHECK(dp.exit_code == 3);
  CHECK_THAT(dp.err, Catch::Contains("optimizer_state"));
  const auto tp4pp2 = run_report(base);
  const auto pp8 = run_report(base + " --set workload.parallel.tp=1 --set workload.parallel.pp=8");
  auto share = [](const nlohmann::json& r, const std::string& res) {
    for (const auto& b : r["bottlenecks"])
      if (b["resource"] == res) return b["critical_path_share"].get<double>();
    return 0.0;
  };
  // Tensor parallel waits on all-reduces; a deep pipeline on its bubble, (pp-1)/(m+pp-1) = 7/15.
  CHECK(share(tp4pp2, "network") > 0.02);
  CHECK(share(pp8, "pipeline wait") == Approx(7.0 / 15).epsilon(0.15));
  CHECK(tp4pp2["summary"]["peak_memory_bytes"].get<double>() < 80e9);
}

TEST_CASE("example_data_parallel_scaling_over_1_8_64_h100s", "[examples]") {
  const std::string w = " --workload examples/data-parallel-scaling/train.yaml";
  const double one = run_report("--system h100-sxm" + w)["summary"]["tokens_per_s"];
  const auto dgx = run_report("--system dgx-h100" + w);
  const auto cluster = run_report("--system h100-cluster-64" + w);
  const double eff8 = dgx["summary"]["tokens_per_s"].get<double>() / (8 * one);
  const double eff64 = cluster["summary"]["tokens_per_s"].get<double>() / (64 * one);
  CHECK(eff8 > 0.95);
  // Across 8 nodes the gradients ride NCCL's rings, one per NIC (8 x 400 Gb/s per node), and
  // still hide under backward.
  CHECK(eff64 > 0.95);
  CHECK(dgx["parallel"]["group_planes"]["dp"] == "nvlink");
  CHECK(cluster["parallel"]["group_planes"]["dp"] == "infiniband");
  CHECK(cluster["summary"]["comm_s"].get<double>() > dgx["summary"]["comm_s"].get<double>());
  // The README's what-if: 50 Gb/s NICs (1/8) make the all-reduce longer than backward.
  const auto slow = run_report("--system h100-cluster-64" + w + " --set 'system.planes.infiniband.link_bandwidth=50 Gb/s'");
  const double eff_slow = slow["summary"]["tokens_per_s"].get<double>() / (64 * one);
  CHECK(eff_slow < 0.85);
  CHECK(eff_slow > 0.5);
  CHECK(slow["summary"]["comm_exposed_s"].get<double>() > 4 * cluster["summary"]["comm_exposed_s"].get<double>());
}

TEST_CASE("example_mixtral_tp_wins_latency_and_ep_wins_throughput", "[examples][moe]") {
  const std::string base = "--system dgx-h100 --workload examples/mixtral-tp-vs-ep/decode.yaml ";
  const auto tp1 = run_report(base + "--set workload.batch=1 --set workload.parallel.tp=8");
  const auto ep1 = run_report(base + "--set workload.batch=1 --set workload.parallel.ep=8");
  const auto tp64 = run_report(base + "--set workload.batch=64 --set workload.parallel.tp=8");
  const auto ep64 = run_report(base + "--set workload.batch=64 --set workload.parallel.ep=8");
  CHECK(tp1["summary"]["tpot_s"].get<double>() < ep1["summary"]["tpot_s"].get<double>());
  CHECK(ep64["summary"]["tokens_per_s"].get<double>() > 4 * tp64["summary"]["tokens_per_s"].get<double>());
  // Both pay the library's latency per call (TP two all-reduces per layer, EP a dispatch and a
  // combine), but EP's calls serve 8 times the sequences: per sequence decoded TP's network
  // time is several times EP's (64 sequences in the system under tp 8, 512 under ep 8).
  CHECK(tp64["summary"]["comm_s"].get<double>() / 64 > 4 * ep64["summary"]["comm_s"].get<double>() / 512);
  // A batch of 8 touches nearly every expert, a single token two: TPOT rises under tp 8.
  const auto tp8 = run_report(base + "--set workload.batch=8 --set workload.parallel.tp=8");
  CHECK(tp8["summary"]["tpot_s"].get<double>() > 1.3 * tp1["summary"]["tpot_s"].get<double>());
}

TEST_CASE("example_deepseek_decode_batch_mtp_and_half_ub_bandwidth", "[examples][moe][deepseek]") {
  const std::string base = "--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384 ";
  const auto b16 = run_report(base + "--set workload.batch=16");
  const auto b16_off = run_report(base + "--set workload.batch=16 --set workload.mtp.draft_tokens=0");
  const auto b64 = run_report(base + "--set workload.batch=64");
  const auto b48 = run_report(base);
  const auto half = run_report(base + "--set system.planes.ub.link_bandwidth=14GB/s --set system.planes.ub.uplink_bandwidth=14GB/s");
  auto per_npu = [](const nlohmann::json& r) { return r["summary"]["tokens_per_s"].get<double>() / 160; };
  auto tpot = [](const nlohmann::json& r) { return r["summary"]["tpot_s"].get<double>(); };
  CHECK(per_npu(b64) > per_npu(b16));
  CHECK(tpot(b64) > tpot(b16));
  CHECK(tpot(b16) < 0.9 * tpot(b16_off));  // MTP pays at small batch
  auto a2a = [](const nlohmann::json& r) {
    for (const auto& k : r["op_kinds"])
      if (k["category"] == "all_to_all_v") return k["time_s"].get<double>();
    return 0.0;
  };
  // The fused kernels' fixed and per-peer costs do not depend on the link bandwidth; the time
  // their bytes take at the ports (what the library all-to-all-v takes) doubles.
  const auto b48_library = run_report(base + "--set workload.moe.a2a=collective");
  CHECK(a2a(half) - a2a(b48) == Approx(a2a(b48_library)).epsilon(0.05));
  CHECK(a2a(b48) > a2a(b48_library));
  // Overlapped micro-batches hide the transfers: half the bandwidth moves TPOT far less than
  // it does with the micro-batches one after the other.
  const auto serial = run_report(base + "--set workload.overlap.enabled=false");
  const auto serial_half = run_report(base + "--set workload.overlap.enabled=false --set system.planes.ub.link_bandwidth=14GB/s --set system.planes.ub.uplink_bandwidth=14GB/s");
  CHECK(tpot(b48) < 0.85 * tpot(serial));
  CHECK(tpot(half) - tpot(b48) < 0.2 * (tpot(serial_half) - tpot(serial)));
  CHECK(tpot(half) > tpot(b48));
  // The low-latency end: with one micro-batch, 2 and 4 sequences per die cost nearly the same
  // step, most of it streaming the weights (GEMMs) and the fused kernels' fixed costs.
  const std::string one = "--set workload.parallel.microbatches=1 --set workload.overlap.enabled=false ";
  const auto b2 = run_report(base + one + "--set workload.batch=2");
  const auto b4 = run_report(base + one + "--set workload.batch=4");
  auto gemm = [](const nlohmann::json& r) {
    for (const auto& k : r["op_kinds"])
      if (k["category"] == "gemm") return k["time_s"].get<double>();
    return 0.0;
  };
  auto step = [](const nlohmann::json& r) { return r["summary"]["step_time_s"].get<double>(); };
  CHECK(step(b4) < 1.1 * step(b2));
  CHECK(gemm(b2) + a2a(b2) > 0.8 * step(b2));
}

TEST_CASE("example_dispatch_latency_grows_with_ep_size", "[examples][moe][deepseek]") {
  // examples/deepseek-dispatch-vs-ep: the fused dispatch and combine grow with the number of
  // peers; the library all-to-all-v only with the share of bytes that leaves the die.
  auto times = [](int ep, const std::string& a2a) {
    const auto r = run_report_ops(
        "--system cloudmatrix384 --workload deepseek-r1-decode-cm384 --set workload.batch=256 "
        "--set workload.mtp.draft_tokens=0 --set workload.moe.shared_replicas=0 "
        "--set workload.moe.redundant_experts=0 --set workload.model.layers=8 --set workload.seq_len=512 "
        "--set system.devices=" + std::to_string(ep < 16 ? 16 : ep) + " --set workload.parallel.ep=" +
        std::to_string(ep) + " --set workload.moe.a2a=" + a2a);
    double dispatch = 0;
    for (const auto& op : r["ops"]) {
      const std::string n = op["name"];
      if (n.size() > 13 && n.compare(n.size() - 13, 13, ".moe.dispatch") == 0)
        dispatch = op["end_s"].get<double>() - op["start_s"].get<double>();
    }
    return dispatch;
  };
  const double f8 = times(8, "fused"), f64 = times(64, "fused"), f256 = times(256, "fused");
  const double c8 = times(8, "collective"), c256 = times(256, "collective");
  CHECK(f8 < f64);
  CHECK(f64 < f256);
  // Fused: 248 more peers at 94 ns each, plus the slightly larger share of bytes leaving.
  CHECK(f256 - f8 == Approx(248 * 94e-9 + (c256 - c8)).epsilon(0.05));
  // Library: bytes x (1 - 1/EP) at the same ports: 255/256 over 7/8 of the EP8 time, + latency.
  CHECK(c256 / c8 == Approx((255.0 / 256) / (7.0 / 8)).epsilon(0.03));
}
