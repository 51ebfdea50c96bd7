// `orrery batch`: many runs from one process, each in a forked child with its own SystemC kernel.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

std::string temp(const std::string& what) { return "/tmp/orrery-batch-test-" + std::to_string(getpid()) + what; }

/// Runs `orrery batch <options>` on `lines` and returns its JSON result lines.
std::vector<nlohmann::json> batch(const std::vector<std::string>& lines, const std::string& options) {
  const std::string input = temp(".in");
  {
    std::ofstream f(input);
    for (const auto& l : lines) f << l << "\n";
  }
  const CliResult r = run_orrery("batch " + options + " < " + input);
  std::remove(input.c_str());
  std::vector<nlohmann::json> out;
  std::istringstream s(r.out);
  for (std::string line; std::getline(s, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json without_wall_clock(nlohmann::json report) {
  report["sim"].erase("wall_s");
  report["sim"].erase("events_per_s");
  return report;
}

}  // namespace

TEST_CASE("batch_runs_each_line_and_answers_in_input_order", "[cli][batch]") {
  const std::string report = temp(".json");
  const std::vector<nlohmann::json> out = batch(
      {
          R"(["run", "--system", "h100-sxm", "--workload", "gpt2-xl-train", "--set", "workload.batch=2", "--quiet", "--report", ")" + report + R"("])",
          R"(["run", "--system", "h100-sxm", "--workload", "gpt2-xl-train", "--set", "workload.batch=-1"])",
          "",
          "not json",
          R"(["list", "presets"])",
          R"(["run", "--system", "h100-sxm", "--workload", "gpt2-xl-decode"])",
      },
      "--jobs 2");
  // Five results: the blank line is skipped, the others keep their line numbers and order.
  REQUIRE(out.size() == 5);
  const std::vector<int> lines{1, 2, 4, 5, 6};
  for (size_t i = 0; i < out.size(); ++i) CHECK(out[i]["line"] == lines[i]);
  CHECK(out[0]["exit"] == 0);
  CHECK(out[0]["stdout"] == "");  // --quiet
  CHECK(out[1]["exit"] == 2);
  CHECK(out[1]["stderr"].get<std::string>().rfind("error: ", 0) == 0);
  CHECK(out[1]["stderr"].get<std::string>().find("workload.batch") != std::string::npos);
  CHECK(out[2]["exit"] == 2);
  CHECK(out[2]["stderr"].get<std::string>().find("batch line 4") != std::string::npos);
  CHECK(out[3]["exit"] == 2);  // only `run` lines
  CHECK(out[4]["exit"] == 0);
  CHECK(out[4]["stdout"].get<std::string>().find("TPOT") != std::string::npos);
  for (const auto& r : out) {
    CHECK(r["signal"].is_null());
    CHECK(r["timed_out"] == false);
  }

  // The report a batch run writes is the report `orrery run` writes (wall-clock fields aside).
  std::ifstream f(report);
  REQUIRE(f);
  const nlohmann::json from_batch = nlohmann::json::parse(f);
  std::remove(report.c_str());
  const nlohmann::json direct = run_report("--system h100-sxm --workload gpt2-xl-train --set workload.batch=2");
  CHECK(without_wall_clock(from_batch) == without_wall_clock(direct));
}

TEST_CASE("batch_kills_a_run_that_passes_its_timeout_and_goes_on", "[cli][batch]") {
  const std::vector<nlohmann::json> out = batch(
      {
          R"(["run", "--system", "h100-sxm", "--workload", "gpt2-xl-train", "--set", "workload.iterations=1000", "--quiet"])",
          R"(["run", "--system", "h100-sxm", "--workload", "nope.yaml"])",
      },
      "--timeout 2");  // the second run, an error at once, must end within it even under sanitizers
  REQUIRE(out.size() == 2);
  CHECK(out[0]["timed_out"] == true);
  CHECK(out[0]["exit"].is_null());
  CHECK(out[0]["signal"] == 9);
  CHECK(out[0]["wall_s"].get<double>() >= 2);
  CHECK(out[0]["wall_s"].get<double>() < 10);
  CHECK(out[1]["exit"] == 2);
  CHECK(out[1]["timed_out"] == false);
}
