// DeepSeek-R1 on CloudMatrix384 as CloudMatrix-Infer deploys it: the decode and prefill presets
// run (fast), fit, and multi-token prediction turns step time into TPOT as defined. Their
// accuracy against the paper is not asserted yet (docs/validation.md says why).
#include <catch2/catch.hpp>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("deepseek_r1_decode_on_320_dies_runs_with_mtp", "[examples][moe][deepseek]") {
  const auto r = run_report("--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384");
  const auto& s = r["summary"];
  // MTP: 1 draft accepted 70% of the time -> 1.7 tokens per sequence per step.
  CHECK(s["tpot_s"].get<double>() == Approx(s["step_time_s"].get<double>() / 1.7).epsilon(1e-12));
  // tokens/s = 48 sequences x 320 dies x 1.7 / step.
  CHECK(s["tokens_per_s"].get<double>() == Approx(48 * 320 * 1.7 / s["step_time_s"].get<double>()).epsilon(1e-12));
  CHECK(r["moe"]["ep"] == 320);
  CHECK(r["moe"]["moe_layers"] == 58);
  // Every die holds the dense weights (MLA ~11B) and one expert slot per MoE layer, int8.
  CHECK(s["peak_memory_bytes"].get<double>() < 64e9);
  CHECK(r["model"]["parameters"].get<double>() == Approx(671e9).epsilon(0.005));
  // The expert all-to-alls are computed in aggregate on the non-blocking UB plane.
  // Dispatch and combine of 58 MoE layers + the MTP layer, for each of the 2 micro-batches.
  CHECK(r["sim"]["aggregated_transfers"].get<long>() == 2 * 59 * 2);
  CHECK(r["sim"]["aggregate_overlaps"] == 0);
  CHECK(r["sim"]["wall_s"].get<double>() < 2.0);
}

TEST_CASE("deepseek_r1_prefill_on_32_dies_runs", "[examples][moe][deepseek]") {
  const auto r = run_report("--system cloudmatrix384 --set system.devices=32 --workload deepseek-r1-prefill-cm384");
  CHECK(r["summary"]["ttft_s"].get<double>() > 0);
  CHECK(r["moe"]["ep"] == 32);
  CHECK(r["summary"]["peak_memory_bytes"].get<double>() < 64e9);
}

TEST_CASE("mtp_needs_mtp_modules_and_decode", "[moe][mtp]") {
  const auto bad = run_orrery("run --system h100-sxm --workload llama-3-8b-decode --set workload.mtp.acceptance=0.7 --quiet");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("MTP module") != std::string::npos);
}
