// Accuracy of the h100-sxm preset against every row of tests/data/h100_microbench.json.
// The preset's constants were fitted (tools/fit_device.py) on the GEMM, attention and
// element-wise rows; the GPT-2 block rows are held out. Bounds: mean absolute error per
// category GEMM <= 10%, attention <= 10%, element-wise <= 15%, block <= 10%.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

nlohmann::json reference() {
  std::ifstream in(source_path("tests/data/h100_microbench.json"));
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
    std::cout << fmt::format("{:<44} {:>10.1f}us {:>10.1f}us {:>+7.1f}%\n", r.label,
                             r.measured * 1e6, r.simulated * 1e6, 100 * r.error());
  }
  const double mae = sum / static_cast<double>(rows.size());
  std::cout << fmt::format("{} mean absolute error: {:.1f}%\n", title, 100 * mae);
  return mae;
}

std::vector<double> simulated_rows(const std::string& category) {
  const nlohmann::json rep = run_report("--system h100-sxm --workload tests/data/h100_microbench_" + category + ".yaml");
  std::vector<double> out;
  for (const auto& m : rep["microbench"]) out.push_back(m["time_s"].get<double>());
  return out;
}

}  // namespace

TEST_CASE("h100_gemm_sweep_within_10_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["gemm_sweep"];
  const auto sim = simulated_rows("gemm");
  REQUIRE(sim.size() == ref.size());
  std::vector<Row> rows;
  for (size_t i = 0; i < ref.size(); ++i)
    rows.push_back({fmt::format("gemm {}x{}x{} {}", ref[i]["M"].get<int>(), ref[i]["K"].get<int>(),
                                ref[i]["N"].get<int>(), ref[i]["dtype"].get<std::string>()),
                    ref[i]["s"].get<double>(), sim[i]});
  CHECK(mean_abs_error(rows, "GEMM") <= 0.10);
}

TEST_CASE("h100_attention_within_10_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["attention"];
  const auto sim = simulated_rows("attention");
  std::vector<Row> rows;
  size_t k = 0;
  for (const auto& r : ref) {
    const std::string shape = fmt::format("B{} H{} S{} KV{} D{}", r["B"].get<int>(), r["H"].get<int>(),
                                          r["S"].get<int>(), r.value("KV", r["S"].get<int>()), r["D"].get<int>());
    REQUIRE(k < sim.size());
    rows.push_back({"sdpa " + shape + " fwd", r["fwd_s"].get<double>(), sim[k++]});
    if (r.contains("fwdbwd_s")) {
      REQUIRE(k < sim.size());
      rows.push_back({"sdpa " + shape + " fwd+bwd", r["fwdbwd_s"].get<double>(), sim[k++]});
    }
  }
  REQUIRE(k == sim.size());
  CHECK(mean_abs_error(rows, "attention") <= 0.10);
}

TEST_CASE("h100_elementwise_within_15_percent_mean_error", "[accuracy]") {
  const auto ref = reference()["elementwise"];
  const auto sim = simulated_rows("elementwise");
  REQUIRE(sim.size() == ref.size());
  std::vector<Row> rows;
  for (size_t i = 0; i < ref.size(); ++i)
    rows.push_back({fmt::format("{} {}x{}", ref[i]["op"].get<std::string>(), ref[i]["T"].get<int>(),
                                ref[i]["C"].get<int>()),
                    ref[i]["s"].get<double>(), sim[i]});
  CHECK(mean_abs_error(rows, "element-wise") <= 0.15);
}

TEST_CASE("h100_gpt2_block_held_out_within_10_percent_mean_error", "[accuracy]") {
  std::vector<Row> rows;
  const nlohmann::json blocks = reference()["block"];
  REQUIRE(blocks.size() == 32);
  for (const auto& r : blocks) {
    for (const char* key : {"fwd_s", "fwdbwd_s"}) {
      const bool backward = std::string(key) == "fwdbwd_s";
      const nlohmann::json rep = run_report(fmt::format(
          "--system h100-sxm --workload tests/data/block.yaml --set workload.model.preset={} "
          "--set workload.batch={} --set workload.seq_len={} --set workload.precision={} "
          "--set workload.backward={}",
          r["model"].get<std::string>(), r["B"].get<int>(), r["S"].get<int>(),
          r["prec"].get<std::string>(), backward ? "true" : "false"));
      rows.push_back({fmt::format("{} B{} S{} {} {}", r["model"].get<std::string>(), r["B"].get<int>(),
                                  r["S"].get<int>(), r["prec"].get<std::string>(), backward ? "fwd+bwd" : "fwd"),
                      r[key].get<double>(), rep["summary"]["step_time_s"].get<double>()});
    }
  }
  CHECK(mean_abs_error(rows, "GPT-2 block (held out)") <= 0.10);
}
