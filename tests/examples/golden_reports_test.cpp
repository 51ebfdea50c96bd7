// The reports of every example scenario are the same as they were recorded in
// tests/golden/reports/ (cases.txt lists the runs), wall-clock fields aside. The per-op list is
// kept there as a digest (count and sums of start, end, FLOPs and bytes over the ops, and the
// length of their joined names), so any op that moves, grows or disappears shows up.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

/// Every scalar of `want` equals the one at the same path of `got` (numbers to 1e-12 relative);
/// both have the same keys.
void require_same(const nlohmann::json& want, const nlohmann::json& got, const std::string& path) {
  INFO("at " << path);
  if (want.is_number() && got.is_number()) {
    const double a = want.get<double>(), b = got.get<double>();
    CHECK(b == Approx(a).epsilon(1e-12).margin(1e-300));
    return;
  }
  REQUIRE(want.type() == got.type());
  if (want.is_object()) {
    for (const auto& [k, v] : want.items()) {
      INFO("missing key " << path << "." << k);
      REQUIRE(got.contains(k));
      require_same(v, got[k], path + "." + k);
    }
    for (const auto& [k, v] : got.items()) {
      INFO("new key " << path << "." << k);
      CHECK(want.contains(k));
    }
  } else if (want.is_array()) {
    REQUIRE(want.size() == got.size());
    for (size_t i = 0; i < want.size(); ++i) require_same(want[i], got[i], path + "[" + std::to_string(i) + "]");
  } else {
    CHECK(want == got);
  }
}

nlohmann::json digest(const nlohmann::json& ops) {
  double start = 0, end = 0, flops = 0, bytes = 0;
  size_t names = 0;
  for (const auto& op : ops) {
    start += op["start_s"].get<double>();
    end += op["end_s"].get<double>();
    flops += op["flops"].get<double>();
    bytes += op["bytes"].get<double>();
    names += op["name"].get<std::string>().size() + 1;
  }
  return {{"count", ops.size()}, {"start_s", start}, {"end_s", end}, {"flops", flops},
          {"bytes", bytes}, {"names", ops.empty() ? 0 : names - 1}};
}

}  // namespace

TEST_CASE("example_reports_match_their_recorded_goldens", "[examples][golden]") {
  int checked = 0;
  for (const auto& [name, args] : golden_cases("tests/golden/reports/cases.txt")) {
    INFO(name << ":" << args);
    std::ifstream f(source_path("tests/golden/reports/" + name + ".json"));
    REQUIRE(f);
    const nlohmann::json want = nlohmann::json::parse(f);
    nlohmann::json got = run_report(args + " --op-records");
    got["ops_digest"] = digest(got["ops"]);
    got.erase("ops");
    got.erase("op_kinds");  // sections added after the goldens were recorded
    got.erase("model");
    got["sim"].erase("wall_s");
    got["sim"].erase("events_per_s");
    require_same(want, got, name);
    ++checked;
  }
  CHECK(checked == 15);
}
