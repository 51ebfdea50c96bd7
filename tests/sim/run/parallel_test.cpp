// The parallel planner: rank deduplication proven against simulating every rank, data-parallel
// gradient buckets overlapping backward, Megatron tensor parallelism, 1F1B pipelines, ZeRO-1.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

/// GPT-2 small training on `system` with extra --set flags.
nlohmann::json train(const std::string& system, const std::string& sets) {
  return run_report_ops("--system " + system +
                    " --workload gpt2-xl-train --set workload.model=gpt2-small --set workload.batch=8 "
                    "--set workload.seq_len=256 " + sets);
}

std::map<std::string, int> ops_by_name(const nlohmann::json& r) {
  std::map<std::string, int> n;
  for (const auto& op : r["ops"]) ++n[op["name"].get<std::string>()];
  return n;
}

double step(const nlohmann::json& r) { return r["summary"]["step_time_s"].get<double>(); }

}  // namespace

TEST_CASE("representative_ranks_give_the_same_answer_as_simulating_every_rank", "[parallel]") {
  // dp 2 x tp 2 x pp 2 with sequence parallelism and 4 micro-batches on one DGX H100.
  const std::string sets =
      "--set workload.parallel.dp=2 --set workload.parallel.tp=2 --set workload.parallel.pp=2 "
      "--set workload.parallel.sp=true --set workload.parallel.microbatches=4 --set workload.grad_accum=2";
  const auto reps = train("dgx-h100", sets);
  const auto all = train("dgx-h100", sets + " --set workload.parallel.simulate=all");
  CHECK(reps["parallel"]["ranks_simulated"] == 2);
  CHECK(all["parallel"]["ranks_simulated"] == 8);
  CHECK(step(reps) == Approx(step(all)).epsilon(1e-9));
  CHECK(reps["summary"]["comm_exposed_s"].get<double>() ==
        Approx(all["summary"]["comm_exposed_s"].get<double>()).epsilon(1e-9));
  // Every rank of a stage in the full simulation matches its representative.
  for (const auto& r : all["parallel"]["ranks"]) {
    const int stage = r["stage"];
    const auto& rep = reps["parallel"]["ranks"][static_cast<size_t>(stage)];
    CHECK(r["step_time_s"].get<double>() == Approx(rep["step_time_s"].get<double>()).epsilon(1e-9));
  }
  // The network carried the same bytes: representatives start their peers' transfers too.
  for (size_t p = 0; p < reps["planes"].size(); ++p)
    CHECK(reps["planes"][p]["bytes"].get<double>() == Approx(all["planes"][p]["bytes"].get<double>()).epsilon(1e-9));
}

TEST_CASE("data_parallel_gradient_buckets_overlap_backward_and_shrink_with_accumulation", "[parallel]") {
  const auto one = run_report_ops("--system dgx-h100 --workload gpt2-xl-train");
  // NCCL keeps a one-node all-reduce on NVLink.
  CHECK(one["parallel"]["group_planes"]["dp"] == "nvlink");
  CHECK(one["parallel"]["dp"] == 8);
  const double comm = one["summary"]["comm_s"].get<double>();
  const double exposed = one["summary"]["comm_exposed_s"].get<double>();
  CHECK(comm > 0);
  CHECK(exposed < 0.5 * comm);  // most of the all-reduce hides under backward
  // DDP buckets: every bucket but the last holds at least 25 MiB and less than 25 MiB plus
  // the largest gradient tensor (an fc weight, 1600 x 6400 x 4 B).
  int buckets = 0;
  for (const auto& op : one["ops"]) buckets += op["name"] == "dp.grad_bucket";
  const double grad_bytes = 1.5576e9 * 4;  // GPT-2 XL parameters x fp32
  const double cap = 25 * 1048576.0, largest = 1600.0 * 6400 * 4;
  CHECK(buckets <= static_cast<int>(grad_bytes / cap) + 1);
  CHECK(buckets >= static_cast<int>(grad_bytes / (cap + largest)));
  // Gradient accumulation: 4 micro-steps, one reduction; the reduction's share of the step falls.
  const auto accum = run_report_ops("--system dgx-h100 --workload gpt2-xl-train --set workload.grad_accum=4");
  const double share1 = comm / step(one);
  const double share4 = accum["summary"]["comm_s"].get<double>() / step(accum);
  CHECK(share4 < 0.4 * share1);
  CHECK(accum["summary"]["global_batch"].get<double>() == 4 * one["summary"]["global_batch"].get<double>());
}

TEST_CASE("tensor_parallel_splits_layers_and_adds_megatron_collectives", "[parallel]") {
  const auto tp = train("dgx-h100", "--set workload.parallel.tp=2 --set workload.parallel.dp=4");
  auto n = ops_by_name(tp);
  // Per layer: "g" all-reduce after attention and MLP in forward, "f" all-reduce in backward.
  CHECK(n["h0.attn.tp_all_reduce"] == 1);
  CHECK(n["h0.mlp.tp_all_reduce"] == 1);
  CHECK(n["h0.attn.tp_all_reduce.bwd"] == 1);
  CHECK(n["h0.mlp.tp_all_reduce.bwd"] == 1);
  // The qkv GEMM has 3d/tp = 1152 columns.
  for (const auto& op : tp["ops"])
    if (op["name"] == "h0.attn.qkv") CHECK(op["flops"].get<double>() == Approx(2.0 * 2048 * 1152 * 768));
  // Sequence parallel: all-gather / reduce-scatter instead of all-reduce.
  const auto sp = train("dgx-h100", "--set workload.parallel.tp=2 --set workload.parallel.dp=4 --set workload.parallel.sp=true");
  n = ops_by_name(sp);
  CHECK(n["h0.attn.tp_all_gather"] == 1);
  CHECK(n["h0.attn.tp_reduce_scatter"] == 1);
  CHECK(n["h0.attn.tp_all_reduce"] == 0);
  // Weights split over tp: about half per rank.
  const auto dp = train("dgx-h100", "");
  auto weights = [](const nlohmann::json& r) {
    for (const auto& m : r["memory"]) if (m["item"] == "weights") return m["bytes"].get<double>();
    return 0.0;
  };
  CHECK(weights(tp) < 0.62 * weights(dp));
  CHECK(tp["parallel"]["group_planes"]["tp"] == "nvlink");
}

TEST_CASE("a_1f1b_pipeline_bubble_shrinks_with_more_micro_batches", "[parallel]") {
  // Graph replay removes host effects; the bubble of 1F1B is (pp - 1) / (m + pp - 1).
  auto run = [](int m) {
    return run_report_ops("--system dgx-h100 --workload gpt2-xl-train --set workload.framework=graph "
                      "--set workload.batch=" + std::to_string(2 * m) +
                      " --set workload.parallel.pp=4 --set workload.parallel.dp=2 "
                      "--set workload.parallel.microbatches=" + std::to_string(m));
  };
  for (int m : {4, 16}) {
    const auto r = run(m);
    const double ideal = 3.0 / (m + 3.0);
    // The last stage (with the LM head) has the most work; the others idle for the bubble.
    double busy = 0;
    for (const auto& rank : r["parallel"]["ranks"]) busy = std::max(busy, rank["compute_busy_s"].get<double>());
    const double bubble = 1 - busy / step(r);
    INFO("m " << m << " bubble " << bubble << " ideal " << ideal);
    CHECK(bubble > 0.5 * ideal);
    CHECK(bubble < 1.6 * ideal);
  }
}

TEST_CASE("zero_1_shards_optimizer_state_and_gathers_weights", "[parallel]") {
  const auto base = run_report_ops("--system dgx-h100 --workload gpt2-xl-train");
  const auto zero = run_report_ops("--system dgx-h100 --workload gpt2-xl-train --set workload.parallel.zero=1");
  auto item = [](const nlohmann::json& r, const std::string& name) {
    for (const auto& m : r["memory"]) if (m["item"] == name) return m["bytes"].get<double>();
    return 0.0;
  };
  CHECK(item(zero, "optimizer_state") == Approx(item(base, "optimizer_state") / 8));
  auto n = ops_by_name(zero);
  CHECK(n["dp.weights_all_gather"] == 1);
  bool reduce_scatter = false;
  for (const auto& op : zero["ops"])
    reduce_scatter |= op["name"] == "dp.grad_bucket" && op["category"] == "reduce_scatter";
  CHECK(reduce_scatter);
}

TEST_CASE("bad_parallel_layouts_are_clear_errors", "[parallel]") {
  auto r = run_orrery("run --system dgx-h100 --workload gpt2-xl-train --set workload.parallel.dp=3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("dp x tp x pp = 3 x 1 x 1 = 3 but the system has 8 devices"));
  r = run_orrery("run --system dgx-h100 --workload gpt2-xl-train --set workload.parallel.pp=8 "
                 "--set workload.parallel.microbatches=3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("3 micro-batches do not divide the batch of 8"));
  r = run_orrery("run --system dgx-h100 --workload gpt2-xl-decode --set workload.parallel.zero=1");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("phase train only"));
}

TEST_CASE("inference_runs_tensor_and_pipeline_parallel", "[parallel]") {
  const auto tp = run_report_ops("--system dgx-h100 --workload gpt2-xl-decode --set workload.model=gpt2-small "
                             "--set workload.parallel.tp=4 --set workload.parallel.dp=2");
  const auto one = run_report_ops("--system h100-sxm --workload gpt2-xl-decode --set workload.model=gpt2-small");
  CHECK(tp["summary"]["tpot_s"].get<double>() > 0);
  // Decode all-reduces are tiny and latency-bound; a rank's KV cache is 1/tp.
  auto kv = [](const nlohmann::json& r) {
    for (const auto& m : r["memory"]) if (m["item"] == "kv_cache") return m["bytes"].get<double>();
    return 0.0;
  };
  CHECK(kv(tp) == Approx(kv(one) / 4));
  const auto pp = run_report_ops("--system dgx-h100 --workload gpt2-xl-decode --set workload.model=gpt2-small "
                             "--set workload.parallel.pp=2 --set workload.parallel.microbatches=2 "
                             "--set workload.batch=8");
  CHECK(pp["summary"]["tpot_s"].get<double>() > 0);
  CHECK(pp["parallel"]["ranks"].size() == 2);
}
