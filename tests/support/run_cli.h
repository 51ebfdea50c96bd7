// Runs the orrery binary in a child process (each simulation needs its own SystemC kernel).
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace orrery::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `orrery <args>` from the source directory; args are passed to the shell as written.
CliResult run_orrery(const std::string& args);
/// Runs `orrery run <args> --quiet --report <tmp>` and returns the parsed report (REQUIREs exit 0).
nlohmann::json run_report(const std::string& args);
/// The same with `--op-records`: the report lists every op of the reported step.
nlohmann::json run_report_ops(const std::string& args);
/// Median duration of the report's ops (from --op-records) whose name ends in each of `tails`
/// (e.g. ".moe.dispatch"), keyed by tail; tails no op ends in are absent.
std::map<std::string, double> median_op_time(const nlohmann::json& report, const std::vector<std::string>& tails);
/// One line `name | orrery arguments` of a golden cases file (tests/golden/*/cases.txt).
struct GoldenCase {
  std::string name, args;
};
/// The cases of `relative` (blank lines and # comments skipped); REQUIREs that it opens.
std::vector<GoldenCase> golden_cases(const std::string& relative);
/// Absolute path of a file in the source tree.
std::string source_path(const std::string& relative);

}  // namespace orrery::test
