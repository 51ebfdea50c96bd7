// The dense Llama family end to end through `orrery run`: decode time against the HBM bound,
// tensor-parallel training on a DGX H100, and the memory plan's fit / does-not-fit answers.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("llama_3_8b_decode_tpot_is_within_the_hbm_bound", "[examples][llama]") {
  // Batch 1 must stream every bf16 weight once per token: 8.03e9 x 2 B / 3.35 TB/s = 4.79 ms.
  const double bound = 8.03e9 * 2 / 3.35e12;
  // framework: graph (static cache, no per-kernel Python): weight streaming dominates, so
  // the time per token is above the bound but within 3x of it.
  const nlohmann::json graph = run_report("--system h100-sxm --workload llama-3-8b-decode --set workload.framework=graph");
  const double tpot = graph["summary"]["tpot_s"];
  CHECK(tpot >= bound);
  CHECK(tpot < 3 * bound);
  // Eager HF generate is host-bound at batch 1 (hundreds of kernel launches per token) but
  // can never beat the weight stream either.
  const nlohmann::json eager = run_report("--system h100-sxm --workload llama-3-8b-decode");
  CHECK(eager["summary"]["tpot_s"].get<double>() >= tpot);
  // bf16 decode fits in 80 GB: 16 GB of weights plus a small KV cache.
  CHECK(eager["summary"]["peak_memory_bytes"].get<double>() < 20e9);
  CHECK(eager["summary"]["peak_memory_bytes"].get<double>() > 16e9);
}

TEST_CASE("llama_2_7b_trains_with_tensor_parallelism_on_a_dgx_h100", "[examples][llama]") {
  const nlohmann::json r = run_report("--system dgx-h100 --workload tests/data/llama-2-7b-train-tp8.yaml");
  CHECK(r["summary"]["devices"] == 8);
  const double step = r["summary"]["step_time_s"], mfu = r["summary"]["mfu"];
  CHECK(step > 0);
  CHECK(mfu > 0.05);
  CHECK(mfu < 0.8);
  // Megatron TP with sequence parallelism: all-gathers and reduce-scatters on NVLink.
  bool gather = false, scatter = false, rmsnorm = false, silu = false;
  for (const auto& k : r["op_kinds"]) {
    const std::string c = k["category"];
    gather |= c == "all_gather";
    scatter |= c == "reduce_scatter";
    rmsnorm |= c == "rmsnorm";
    silu |= c == "silu";
  }
  CHECK(gather);
  CHECK(scatter);
  CHECK(rmsnorm);
  CHECK(silu);
  CHECK(r["summary"]["comm_s"].get<double>() > 0);
}

TEST_CASE("llama_2_70b_training_does_not_fit_one_h100", "[examples][llama]") {
  // 69e9 bf16 weights alone are 138 GB: exit 3 with the memory plan.
  const CliResult r = run_orrery("run --system h100-sxm --workload tests/data/llama-2-70b-train.yaml --quiet");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("does not fit") != std::string::npos);
}

TEST_CASE("mixtral_decode_fits_a_dgx_with_expert_parallelism_but_not_one_h100", "[examples][llama][moe]") {
  // 46.7B bf16 parameters are 93 GB: more than one H100's 80 GB.
  const CliResult one = run_orrery(
      "run --system h100-sxm --workload llama-3-8b-decode --set workload.model=mixtral-8x7b --quiet");
  CHECK(one.exit_code == 3);
  // EP 8 on a DGX: each GPU keeps one expert per layer besides the dense weights.
  const auto r = run_report("--system dgx-h100 --workload llama-3-8b-decode --set workload.model=mixtral-8x7b "
                            "--set workload.parallel.ep=8");
  CHECK(r["moe"]["ep"] == 8);
  CHECK(r["model"]["active_parameters"].get<double>() == Approx(12.88e9).epsilon(0.01));
  CHECK(r["summary"]["tpot_s"].get<double>() > 0);
}
