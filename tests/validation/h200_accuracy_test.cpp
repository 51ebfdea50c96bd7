// Accuracy of the h200-sxm preset against every row of tests/data/h200_graph_microbench.json
// (device time of CUDA-graph replays), and of h100-sxm against that file's H100 low-precision
// GEMM rows. Each row is simulated through the real simulator, from the microbench workloads
// tools/microbench_workloads.py writes (tests/data/h200_graph_*.yaml; framework: graph,
// graph_calls = the calls one captured graph holds). The constants were fitted on these rows
// (tools/fit_h200.py); docs/validation.md lists the before/after errors.
// Bounds (mean absolute error per category): kernel chains <= 10%, GEMM <= 10%, decode
// attention <= 10%, low-precision GEMM <= 10% (H200) and <= 15% (H100), grouped GEMM <= 12%,
// element-wise: point-wise ops (add, GELU) <= 15%, row reductions (layernorm, softmax, argmax;
// the row model of hw/compute/vector_engine.h, with the kernels' own row-to-threads mapping)
// <= 12%, layernorm alone <= 10%, argmax alone <= 12%, softmax alone <= 15% (its long rows
// at 512-4,096 rows stay too fast: see docs/validation.md), all rows <= 12%.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

nlohmann::json reference() {
  std::ifstream in(source_path("tests/data/h200_graph_microbench.json"));
  return nlohmann::json::parse(in);
}

struct Row {
  std::string label;
  double measured, simulated;
  [[nodiscard]] double error() const { return (simulated - measured) / measured; }
};

double mean_abs_error(const std::vector<Row>& rows, const std::string& title) {
  double sum = 0;
  std::cout << fmt::format("\n{} ({} rows)\n{:<44} {:>12} {:>12} {:>8}\n", title, rows.size(),
                           "row", "measured", "simulated", "error");
  for (const auto& r : rows) {
    sum += std::fabs(r.error());
    std::cout << fmt::format("{:<44} {:>10.2f}us {:>10.2f}us {:>+7.1f}%\n", r.label,
                             r.measured * 1e6, r.simulated * 1e6, 100 * r.error());
  }
  const double mae = sum / static_cast<double>(rows.size());
  std::cout << fmt::format("{} mean absolute error: {:.1f}%\n", title, 100 * mae);
  return mae;
}

std::vector<double> simulated(const std::string& system, const std::string& workload) {
  const nlohmann::json rep = run_report("--system " + system + " --workload tests/data/" + workload);
  std::vector<double> out;
  for (const auto& m : rep["microbench"]) out.push_back(m["time_s"].get<double>());
  return out;
}

/// Rows of one category: label(row) and measured seconds from `key`, simulated from the workload.
template <class Label>
std::vector<Row> rows_of(const nlohmann::json& ref, const std::string& key, const std::vector<double>& sim,
                         Label label) {
  REQUIRE(sim.size() == ref.size());
  std::vector<Row> rows;
  for (size_t i = 0; i < ref.size(); ++i) rows.push_back({label(ref[i]), ref[i][key].get<double>(), sim[i]});
  return rows;
}

}  // namespace

TEST_CASE("h200_kernel_chain_within_10_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["kernel_chain"];
  const auto rows = rows_of(ref, "s_per_kernel", simulated("h200-sxm", "h200_graph_chain.yaml"),
                            [](const auto& r) { return fmt::format("add_ numel {}", r["numel"].template get<long>()); });
  CHECK(mean_abs_error(rows, "kernel chain (graph)") <= 0.10);
}

TEST_CASE("h200_gemm_within_10_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["gemm"];
  REQUIRE(ref.size() == 220);
  const auto rows = rows_of(ref, "s", simulated("h200-sxm", "h200_graph_gemm.yaml"), [](const auto& r) {
    return fmt::format("{} {}x{}x{}", r["what"].template get<std::string>(), r["M"].template get<int>(),
                       r["K"].template get<int>(), r["N"].template get<int>());
  });
  CHECK(mean_abs_error(rows, "GEMM (graph)") <= 0.10);
}

TEST_CASE("h200_decode_attention_within_10_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["attention_decode"];
  const auto rows = rows_of(ref, "s", simulated("h200-sxm", "h200_graph_attention.yaml"), [](const auto& r) {
    return fmt::format("B{} H{}/{} D{} KV{}{}", r["B"].template get<int>(), r["H"].template get<int>(),
                       r["Hkv"].template get<int>(), r["D"].template get<int>(), r["KV"].template get<int>(),
                       r["bool_mask"].template get<bool>() ? " mask" : "");
  });
  CHECK(mean_abs_error(rows, "decode attention (graph)") <= 0.10);
}

TEST_CASE("h200_elementwise_within_12_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["elementwise"];
  const auto rows = rows_of(ref, "s", simulated("h200-sxm", "h200_graph_elementwise.yaml"), [](const auto& r) {
    return fmt::format("{} {}x{}", r["op"].template get<std::string>(), r["T"].template get<int>(),
                       r["C"].template get<int>());
  });
  std::vector<Row> pointwise, reductions, layernorm, argmax, softmax;
  for (const auto& r : rows) {
    const bool pw = r.label.rfind("add", 0) == 0 || r.label.rfind("gelu", 0) == 0;
    (pw ? pointwise : reductions).push_back(r);
    if (r.label.rfind("layernorm", 0) == 0) layernorm.push_back(r);
    if (r.label.rfind("argmax", 0) == 0) argmax.push_back(r);
    if (r.label.rfind("softmax", 0) == 0) softmax.push_back(r);
  }
  REQUIRE(reductions.size() == 60);
  CHECK(mean_abs_error(pointwise, "element-wise, point-wise ops (graph)") <= 0.15);
  CHECK(mean_abs_error(reductions, "element-wise, row reductions (graph)") <= 0.12);
  CHECK(mean_abs_error(layernorm, "element-wise, layernorm (graph)") <= 0.10);
  REQUIRE(argmax.size() == 20);
  CHECK(mean_abs_error(argmax, "element-wise, argmax (graph)") <= 0.12);
  REQUIRE(softmax.size() == 20);
  CHECK(mean_abs_error(softmax, "element-wise, softmax (graph)") <= 0.15);
  CHECK(mean_abs_error(rows, "element-wise, all rows (graph)") <= 0.12);
}

TEST_CASE("h200_grouped_gemm_within_12_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["grouped_gemm"];
  const auto rows = rows_of(ref, "s", simulated("h200-sxm", "h200_graph_grouped.yaml"), [](const auto& r) {
    return fmt::format("{} E{} m{}", r["what"].template get<std::string>(), r["E"].template get<int>(),
                       r["m_per_expert"].template get<int>());
  });
  CHECK(mean_abs_error(rows, "grouped GEMM (graph)") <= 0.12);
}

TEST_CASE("lowp_gemm_h200_and_h100_mean_error", "[accuracy]") {
  const auto all = reference()["lowp_gemm"];
  for (const auto& [device, system, bound] : {std::tuple{"H200", "h200-sxm", 0.10},
                                              std::tuple{"H100 SXM", "h100-sxm", 0.15}}) {
    nlohmann::json ref = nlohmann::json::array();
    for (const auto& r : all)
      if (r["device"] == device) ref.push_back(r);
    const std::string file = std::string(system) == "h200-sxm" ? "h200_graph_lowp_h200.yaml" : "h200_graph_lowp_h100.yaml";
    const auto rows = rows_of(ref, "s", simulated(system, file), [](const auto& r) {
      return fmt::format("{} {}x{}x{}", r["dtype"].template get<std::string>(), r["M"].template get<int>(),
                         r["K"].template get<int>(), r["N"].template get<int>());
    });
    CHECK(mean_abs_error(rows, fmt::format("fp8/int8 GEMM on {} (eager)", device)) <= bound);
  }
}
