#include "tests/support/run_cli.h"

#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace orrery::test {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_name(const char* what) {
  static std::atomic<int> counter{0};
  return "/tmp/orrery-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + what;
}

}  // namespace

nlohmann::json run_report_ops(const std::string& args) { return run_report(args + " --op-records"); }

std::vector<GoldenCase> golden_cases(const std::string& relative) {
  std::ifstream in(source_path(relative));
  REQUIRE(in);
  std::vector<GoldenCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto bar = line.find('|');
    std::string name = line.substr(0, bar);
    name.erase(name.find_last_not_of(' ') + 1);
    out.push_back({name, line.substr(bar + 1)});
  }
  return out;
}

std::string source_path(const std::string& relative) {
  return std::string(ORRERY_SOURCE_DIR) + "/" + relative;
}

CliResult run_orrery(const std::string& args) {
  const std::string out = temp_name(".out"), err = temp_name(".err");
  const std::string cmd = "cd '" + std::string(ORRERY_SOURCE_DIR) + "' && '" + ORRERY_BINARY +
                          "' " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

nlohmann::json run_report(const std::string& args) {
  const std::string report = temp_name(".json");
  const CliResult r = run_orrery("run " + args + " --quiet --report " + report);
  INFO("orrery run " << args << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(report));
  std::remove(report.c_str());
  return j;
}

std::map<std::string, double> median_op_time(const nlohmann::json& report, const std::vector<std::string>& tails) {
  std::map<std::string, std::vector<double>> times;
  for (const auto& op : report["ops"]) {
    const std::string name = op["name"];
    for (const auto& tail : tails)
      if (name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
        times[tail].push_back(op["end_s"].get<double>() - op["start_s"].get<double>());
  }
  std::map<std::string, double> out;
  for (auto& [tail, v] : times) {
    std::sort(v.begin(), v.end());
    out[tail] = v[v.size() / 2];
  }
  return out;
}

}  // namespace orrery::test
