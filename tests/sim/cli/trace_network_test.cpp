// The trace's network side (docs/report.md, "The network in the trace"): per plane a counter of
// the bytes/s its flows carry and a counter per busy link of its utilisation, through the CLI.
// Conservation: a link counter integrates to the bytes the report says the link carried, the
// plane counter to the bytes the flows moved; the JSON is deterministic and stays small on the
// 320-die decode example.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

struct Traced {
  nlohmann::json trace, report;
  std::string text;  // the trace file as written
};

Traced run_traced(const std::string& args) {
  static int n = 0;
  const std::string base = "/tmp/orrery-trace-net-" + std::to_string(getpid()) + "-" + std::to_string(n++);
  const CliResult r = run_orrery("run " + args + " --quiet --trace " + base + ".trace.json --report " + base + ".report.json");
  REQUIRE(r.exit_code == 0);
  Traced out;
  std::ifstream t(base + ".trace.json"), rep(base + ".report.json");
  std::stringstream s;
  s << t.rdbuf();
  out.text = s.str();
  out.trace = nlohmann::json::parse(out.text);
  out.report = nlohmann::json::parse(rep);
  std::remove((base + ".trace.json").c_str());
  std::remove((base + ".report.json").c_str());
  return out;
}

int pid_of(const nlohmann::json& trace, const std::string& process) {
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name" && e["args"]["name"] == process) return e["pid"];
  FAIL("no process " << process);
  return -1;
}

using Series = std::vector<std::pair<double, double>>;  // (ts in us, value)

/// Counter tracks of one process by name, with the value of their single argument.
std::map<std::string, Series> counters(const nlohmann::json& trace, int pid) {
  std::map<std::string, Series> out;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "C" || e["pid"] != pid) continue;
    REQUIRE(e["args"].size() == 1);
    out[e["name"].get<std::string>()].emplace_back(e["ts"].get<double>(), e["args"].begin()->get<double>());
  }
  return out;
}

/// Integral over time in seconds; checks the series is time-ordered, non-negative, ends at 0.
double integral(const Series& s) {
  double sum = 0;
  for (size_t k = 0; k + 1 < s.size(); ++k) {
    CHECK(s[k + 1].first >= s[k].first);
    CHECK(s[k].second >= 0);
    sum += s[k].second * (s[k + 1].first - s[k].first) * 1e-6;
  }
  CHECK(s.back().second == 0);
  return sum;
}

/// report links[] by "link from->to".
std::map<std::string, nlohmann::json> report_links(const nlohmann::json& report, const std::string& plane) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& l : report["links"])
    if (l["plane"] == plane) out["link " + l["from"].get<std::string>() + "->" + l["to"].get<std::string>()] = l;
  return out;
}

/// The link name without the folded-rail note.
std::string bare(std::string name) {
  const auto at = name.find(" (rail 0");
  return at == std::string::npos ? name : name.substr(0, at);
}

}  // namespace

TEST_CASE("trace_link_counters_integrate_to_the_bytes_each_link_carried", "[trace]") {
  // A ring all-reduce among the 8 GPUs of one NVSwitch: every flow crosses GPU -> switch ->
  // GPU, two links, so the plane counter integrates to half the bytes its links carried.
  const Traced t = run_traced("--system dgx-h100 --workload allreduce-1gib");
  const auto c = counters(t.trace, pid_of(t.trace, "nvlink"));
  REQUIRE(c.count("in flight"));
  CHECK(integral(c.at("in flight")) * 1e9 == Approx(t.report["planes"][0]["bytes"].get<double>() / 2).epsilon(1e-6));
  const double time = t.report["sim"]["simulated_s"];
  const auto links = report_links(t.report, "nvlink");
  size_t checked = 0;
  for (const auto& [name, s] : c) {
    if (name == "in flight") continue;
    INFO(name);
    REQUIRE(links.count(name));
    // util % = rate / bandwidth, and the report's utilization = bytes / (bandwidth x time).
    CHECK(integral(s) / 100 == Approx(links.at(name)["utilization"].get<double>() * time).epsilon(1e-6));
    ++checked;
  }
  CHECK(checked == links.size());  // every link that carried bytes has a track (16 of them)
  CHECK(checked == 16);
}

TEST_CASE("the_320_die_decode_trace_stays_small_and_its_counters_conserve_bytes", "[trace]") {
  const std::string args =
      "--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384";
  const Traced t = run_traced(args);
  // Size bound: the network side adds at most kMaxLinkTracks link tracks per plane, with one
  // event per rate change; the whole file stays under 12 MB.
  CHECK(t.text.size() < 12'000'000);
  const auto& planes = t.report["planes"];
  bool capped = false;
  for (const auto& p : planes) {
    const std::string plane = p["name"];
    if (p["bytes"].get<double>() == 0) continue;
    INFO(plane);
    const int pid = pid_of(t.trace, "plane " + plane);
    const auto c = counters(t.trace, pid);
    REQUIRE(c.count("in flight"));
    CHECK(c.size() - 1 <= 48);
    // UB Clos: a transfer crosses 2 (same node) or 4 links; the aggregate all-to-all-v is
    // charged on its 2 port links. So the flows' bytes lie between a quarter and half of
    // the links' bytes.
    const double flows = integral(c.at("in flight")) * 1e9, links_bytes = p["bytes"];
    if (plane == "ub") {
      CHECK(flows >= links_bytes / 4 * (1 - 1e-6));
      CHECK(flows <= links_bytes / 2 * (1 + 1e-6));
    }
    const auto links = report_links(t.report, plane);
    const double time = t.report["sim"]["simulated_s"];
    size_t matched = 0;
    for (const auto& [name, s] : c) {
      if (name == "in flight" || !links.count(bare(name))) continue;
      INFO(name);
      CHECK(integral(s) / 100 == Approx(links.at(bare(name))["utilization"].get<double>() * time).epsilon(1e-6));
      ++matched;
    }
    if (plane == "ub") CHECK(matched > 0);  // the report lists its 32 busiest links
    for (const auto& e : t.trace["traceEvents"])
      if (e["pid"] == pid && e["ph"] == "i") {
        capped = capped || e["args"]["dropped"].get<int>() > 0;
        CHECK(e["args"]["shown"].get<int>() == static_cast<int>(c.size()) - 1);
      }
  }
  CHECK(capped);  // 320 dies: more busy links than tracks, and the marker says so
}

TEST_CASE("the_trace_is_deterministic", "[trace]") {
  const std::string args = "--system dgx-h100 --workload allreduce-1gib --set workload.collective.op=all_to_all";
  CHECK(run_traced(args).text == run_traced(args).text);
}
