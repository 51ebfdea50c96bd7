#include "workloads/memory_plan.h"

#include <catch2/catch.hpp>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"

using namespace orrery;

namespace {

WorkloadSpec workload(const std::string& yaml) {
  return read_workload(load_yaml_text(yaml, "test.yaml"), "workload");
}

double item(const MemoryPlan& p, const std::string& name) {
  for (const auto& i : p.items)
    if (i.name == name) return i.bytes;
  return -1;
}

}  // namespace

TEST_CASE("gpt2_parameter_counts_match_the_published_sizes", "[memory]") {
  CHECK(workload("{model: gpt2, phase: prefill}").model.total_params() == Approx(124.4e6).epsilon(0.01));
  CHECK(workload("{model: gpt2-medium, phase: prefill}").model.total_params() == Approx(354.8e6).epsilon(0.01));
  CHECK(workload("{model: gpt2-large, phase: prefill}").model.total_params() == Approx(774.0e6).epsilon(0.01));
  CHECK(workload("{model: gpt2-xl, phase: prefill}").model.total_params() == Approx(1557.6e6).epsilon(0.01));
}

TEST_CASE("mixed_precision_adamw_keeps_16_bytes_per_parameter_of_state", "[memory]") {
  const WorkloadSpec w = workload("{model: gpt2-xl, phase: train, batch: 1, seq_len: 1024}");
  const MemoryPlan p = plan_memory(w);
  const double params = w.model.total_params();
  CHECK(item(p, "weights") == Approx(4 * params));
  CHECK(item(p, "optimizer_state") == Approx(8 * params));
  CHECK(item(p, "autocast_weight_cache") > 0);
}

TEST_CASE("activations_grow_linearly_with_batch", "[memory]") {
  const double a1 = item(plan_memory(workload("{model: gpt2-xl, phase: train, batch: 1}")), "activations");
  const double a4 = item(plan_memory(workload("{model: gpt2-xl, phase: train, batch: 4}")), "activations");
  CHECK(a4 == Approx(4 * a1).epsilon(0.01));
}

TEST_CASE("kv_cache_is_two_tensors_per_layer_per_token", "[memory]") {
  const WorkloadSpec w = workload(
      "{model: gpt2-xl, phase: decode, batch: 8, seq_len: 1000, decode_tokens: 24, weights: bf16}");
  CHECK(item(plan_memory(w), "kv_cache") == Approx(2.0 * 48 * 8 * 1024 * 1600 * 2));
}

TEST_CASE("a_workload_that_does_not_fit_reports_the_breakdown", "[memory]") {
  const WorkloadSpec w = workload("{model: genslm-25b, phase: train, batch: 1, seq_len: 2048}");
  const MemoryPlan p = plan_memory(w);
  CHECK_THROWS_AS(check_fits(p, 80e9, "h100-sxm"), DoesNotFitError);
  CHECK_THROWS_WITH(check_fits(p, 80e9, "h100-sxm"),
                    Catch::Contains("does not fit") && Catch::Contains("optimizer_state") &&
                        Catch::Contains("weights") && Catch::Contains("device capacity"));
  CHECK_NOTHROW(check_fits(p, 1e15, "huge"));
}

TEST_CASE("a_forward_over_every_position_keeps_its_logits", "[memory]") {
  // 4 prompts of 128 tokens, GPT-2's 50,257-wide vocabulary in bf16: a plain forward holds
  // the logits of all 4 x 128 positions; generate's prefill only the 4 sampled rows in bf16
  // and their fp32 copy (2 + 4 bytes).
  const MemoryPlan all = plan_memory(workload("{model: gpt2, phase: prefill, batch: 4, seq_len: 128, logits: all}"));
  const MemoryPlan last = plan_memory(workload("{model: gpt2, phase: prefill, batch: 4, seq_len: 128, logits: last}"));
  CHECK(item(all, "logits") == Approx(4.0 * 128 * 50257 * 2));
  CHECK(item(last, "logits") == -1);
  CHECK(all.peak - last.peak == Approx((4.0 * 128 * 2 - 4.0 * 6) * 50257));
}
