// DeepSeek-R1 on CloudMatrix384 against the paper's figures (arXiv 2506.12708;
// docs/validation.md "DeepSeek-R1 on CloudMatrix384"). No constant was fitted on these
// end-to-end figures: the die's operator constants come from the paper's operator figures,
// the UB plane's from its point-to-point and dispatch/combine tables. The bounds are what the
// model achieves today, asserted so that a change that moves a prediction is seen.
#include <catch2/catch.hpp>

#include "hw/kernel_cost.h"
#include "sim/config/yaml_doc.h"
#include "tests/support/run_cli.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;
using namespace orrery::test;

TEST_CASE("deepseek_r1_decode_tpot_within_20_percent_of_the_paper", "[accuracy][deepseek]") {
  // 160 NPUs = 320 dies, 48 sequences per die (96 per NPU), KV 4,096, MTP 1 draft at 70%.
  const auto r = run_report("--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384");
  const double tpot = r["summary"]["tpot_s"].get<double>();
  const double per_npu = 96 / tpot;  // concurrent sequences per NPU / TPOT (the paper's definition)
  INFO("TPOT " << tpot * 1e3 << " ms vs 49.4; " << per_npu << " tokens/s per NPU vs 1,943");
  CHECK(std::abs(tpot / 0.0494 - 1) < 0.20);  // today -15%: see docs/validation.md
  CHECK(tpot < 0.050);                         // the deployment's SLO: TPOT under 50 ms
}

TEST_CASE("deepseek_r1_prefill_throughput_within_10_percent_of_the_balanced_projection", "[accuracy][deepseek]") {
  // 16 NPUs = 32 dies, EP32, 4,096-token prompts, 16,384 tokens per NPU, perfectly balanced
  // experts (the preset's balanced routing): 6,688 tokens/s per NPU published. The preset runs
  // MLA data parallel (the paper's SP -> TP -> SP group size, latent precision and core split
  // are not published; see the preset). Nothing is fitted on this figure.
  const std::string preset = "--system cloudmatrix384 --set system.devices=32 --workload deepseek-r1-prefill-cm384";
  const auto r = run_report(preset);
  const double per_npu = r["summary"]["tokens_per_s"].get<double>() / 16;
  INFO(per_npu << " tokens/s per NPU vs 6,688");
  CHECK(std::abs(per_npu / 6688 - 1) < 0.10);
  // The SP -> TP -> SP split over the 32 dies without micro-batch overlap: the same per-die
  // work plus an exposed latent all-gather (1.07 GB per die per layer) and all-to-all, so it
  // is slower when every die holds the same prompts (today -27%; a regression guard, 30%).
  const auto split = run_report(preset + " --set workload.parallel.attention=sp_tp_sp");
  REQUIRE(split["parallel"]["attention"]["layout"] == "sp_tp_sp");
  REQUIRE(split["parallel"]["attention"]["group"] == 32);
  const double split_per_npu = split["summary"]["tokens_per_s"].get<double>() / 16;
  INFO(split_per_npu << " tokens/s per NPU with the SP -> TP -> SP split");
  CHECK(split_per_npu < per_npu);
  CHECK(std::abs(split_per_npu / 6688 - 1) < 0.30);
  // Skewed routing costs throughput (the paper's default balance: 5,655).
  const auto skew = run_report(preset + " --set workload.moe.routing=zipf --set workload.moe.alpha=1");
  CHECK(skew["summary"]["tokens_per_s"].get<double>() / 16 < per_npu);
}

TEST_CASE("ascend_operator_model_reproduces_the_papers_operator_efficiencies", "[accuracy][deepseek]") {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  const DeviceSpec d = read_device(load_preset(PresetKind::Device, "ascend-910c-die", ctx, "device"), "device");
  auto efficiency = [&](const Op& op) {
    const KernelCost c = kernel_cost(d, op);
    return op.flops / c.duration(d.backing_memory().sustained()) / d.matrix_engine().peak.at(op.dtype);
  };
  // INT8 grouped GEMMs, 4 groups: 79.4% and 81.1% of peak measured.
  Op g1 = make_gemm("g1", 7168, 4096, 4096, Dtype::int8, 4);
  g1.gemm.grouped = true;
  Op g2 = make_gemm("g2", 2048, 7168, 8192, Dtype::int8, 4);
  g2.gemm.grouped = true;
  CHECK(efficiency(g1) == Approx(0.794).epsilon(0.05));
  CHECK(efficiency(g2) == Approx(0.811).epsilon(0.05));
  // MLA, compute-bound (absorbed decode, 128 heads, 2 query tokens x 96 sequences, KV 4,096):
  // 65.4% of peak measured.
  AttentionShape a;
  a.batch = 96, a.heads = 128, a.q_len = 2, a.kv_len = 4096, a.head_dim = 576, a.v_head_dim = 512;
  a.kv_heads = 1, a.v_in_k = true, a.causal = false;
  const Op mla = make_attention("mla", a, Dtype::bf16);
  CHECK(efficiency(mla) == Approx(0.654).epsilon(0.05));
  // MLA, memory-bound (1 query token, 1 head group reading the latent cache): 84.1% of HBM.
  AttentionShape m = a;
  m.heads = 16, m.q_len = 1;
  const Op mem = make_attention("mla_mem", m, Dtype::bf16);
  const KernelCost c = kernel_cost(d, mem);
  const double achieved = mem.bytes / c.duration(d.backing_memory().sustained());
  CHECK(achieved / d.backing_memory().bandwidth == Approx(0.841).epsilon(0.05));
}
