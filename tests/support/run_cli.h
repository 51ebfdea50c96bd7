// Runs the orrery binary in a child process (each simulation needs its own SystemC kernel).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

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
/// Absolute path of a file in the source tree.
std::string source_path(const std::string& relative);

}  // namespace orrery::test
