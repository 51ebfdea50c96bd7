#include "sim/collective_run.h"

#include <fmt/format.h>
#include <systemc>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "hw/network/network_module.h"
#include "sim/config/errors.h"
#include "sim/report/report.h"
#include "sim/units/quantity.h"

namespace orrery {

const Plane& collective_plane(const LoadedRun& run) {
  const std::string& want = run.workload.collective.plane;
  if (run.planes.empty()) throw ConfigError("collective: the system has no network plane");
  std::string names;
  for (const auto& p : run.planes) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (!want.empty() && p.name == want) return p;
  }
  if (!want.empty())
    throw ConfigError(fmt::format("workload.collective.plane: unknown plane '{}'; the system has: {}", want, names));
  for (const auto& p : run.planes)
    if (std::find(p.traffic.begin(), p.traffic.end(), "collective") != p.traffic.end()) return p;
  return run.planes.front();
}

namespace {

/// Issues the stages of a collective one after another on the network: every flow of a stage
/// starts together (paying the stage's rounds of path latency); the next stage starts when the
/// last one arrived. Round-by-round expansion is the case of one-round stages.
class CollectiveDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CollectiveDriver);
  CollectiveDriver(sc_core::sc_module_name name, NetworkModule& net, std::vector<Stage> stages,
                   CollectiveResult& result)
      : sc_module(name), net_(net), stages_(std::move(stages)), result_(result) {
    SC_METHOD(start);
  }

 private:
  void start() { launch(0); }
  void launch(size_t s) {
    const double now = sc_core::sc_time_stamp().to_seconds();
    if (s > 0) result_.stages.back().second = now;
    if (s >= stages_.size()) {
      result_.time = now;
      return;
    }
    result_.stages.push_back({now, now});
    result_.rounds += stages_[s].rounds;
    pending_ = stages_[s].flows.size();
    if (pending_ == 0) return launch(s + 1);
    const double rounds = stages_[s].rounds;
    for (const auto& f : stages_[s].flows) {
      ++result_.flows;
      net_.start_flow(f.src, f.dst, f.bytes, [this, s] {
        if (--pending_ == 0) launch(s + 1);
      }, rounds);
    }
  }

  NetworkModule& net_;
  std::vector<Stage> stages_;
  CollectiveResult& result_;
  size_t pending_ = 0;
};

}  // namespace

CollectiveResult simulate_collective(const Plane& plane, const CollectiveSpec& c) {
  if (sc_core::sc_get_status() != sc_core::SC_ELABORATION)
    throw std::logic_error("simulate_collective() may run once per process");
  CollectiveResult result;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Stage> stages;
  if (c.expansion == "rounds") {
    for (auto& r : expand_collective(c)) stages.push_back({std::move(r), 1});
  } else {
    stages = expand_stages(c);
  }
  result.expansion = c.expansion;
  NetworkModule net("network", plane);
  CollectiveDriver driver("collective", net, std::move(stages), result);
  sc_core::sc_start();
  result.link_bytes = net.link_bytes();
  result.events = net.events() + static_cast<long>(result.stages.size()) + 1;
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

RunOutput execute_collective(const LoadedRun& run, bool want_trace) {
  const CollectiveSpec& c = run.workload.collective;
  const Plane& plane = collective_plane(run);
  for (int d : c.group)
    if (d >= plane.devices())
      throw ConfigError(fmt::format("collective: device {} is not on plane '{}'", d, plane.name));
  const CollectiveResult r = simulate_collective(plane, c);
  const int n = static_cast<int>(c.group.size());
  const double algbw = c.bytes / r.time;
  const double busbw = algbw * bus_factor(c.op, n);
  RunOutput out;
  nlohmann::json& rep = out.report;
  rep["orrery"] = {{"version", "0.1"}, {"report_schema", 1}};
  rep["inputs"] = inputs_json(run);
  rep["system"] = {{"name", run.system_name}, {"devices", run.devices}};
  rep["summary"] = {{"phase", "collective"},
                    {"op", c.op},
                    {"algorithm", resolve_algorithm(c)},
                    {"plane", plane.name},
                    {"ranks", n},
                    {"local_size", node_size(c)},
                    {"bytes", c.bytes},
                    {"step_time_s", r.time},
                    {"algbw_GBps", algbw / 1e9},
                    {"busbw_GBps", busbw / 1e9},
                    {"expansion", r.expansion},
                    {"stages", r.stages.size()},
                    {"rounds", r.rounds}};
  // Per-link utilisation: bytes carried / (capacity x time), busiest first.
  std::vector<size_t> order(plane.links.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.link_bytes[a] > r.link_bytes[b]; });
  double total_util = 0;
  nlohmann::json links = nlohmann::json::array();
  for (size_t i : order) {
    const Link& l = plane.links[i];
    const double util = r.link_bytes[i] / (l.bandwidth * r.time);
    total_util += util;
    if (r.link_bytes[i] <= 0) continue;
    links.push_back({{"from", plane.nodes[static_cast<size_t>(l.from)].name},
                     {"to", plane.nodes[static_cast<size_t>(l.to)].name},
                     {"bytes", r.link_bytes[i]},
                     {"utilization", util}});
  }
  rep["planes"] = {{{"name", plane.name},
                    {"topology", plane.topology},
                    {"links", plane.links.size()},
                    {"mean_link_utilization", total_util / static_cast<double>(plane.links.size())}}};
  rep["links"] = std::move(links);
  rep["sim"] = {{"events", r.events},
                {"flows", r.flows},
                {"simulated_s", r.time},
                {"wall_s", r.wall_s},
                {"events_per_s", r.wall_s > 0 ? double(r.events) / r.wall_s : 0.0}};
  out.summary_text = fmt::format(
      "Orrery — {} ({}) of {} over {} ranks on plane '{}' of {}\n"
      "  time             {}\n  algbw            {:.1f} GB/s\n  busbw            {:.1f} GB/s\n"
      "  simulated {} flows in {} {} ({} rounds) with {} events in {:.1f} ms\n",
      c.op, resolve_algorithm(c), format_quantity(c.bytes, Dim::Bytes), n, plane.name,
      run.system_name, format_quantity(r.time, Dim::Time), algbw / 1e9, busbw / 1e9, r.flows,
      r.stages.size(), r.expansion == "rounds" ? "rounds" : "stages", r.rounds, r.events, 1e3 * r.wall_s);
  if (want_trace) {
    nlohmann::json events = nlohmann::json::array();
    events.push_back({{"ph", "M"}, {"pid", 1}, {"name", "process_name"}, {"args", {{"name", plane.name}}}});
    events.push_back({{"ph", "M"}, {"pid", 1}, {"tid", 1}, {"name", "thread_name"}, {"args", {{"name", "collective " + c.op}}}});
    const char* what = r.expansion == "rounds" ? "round" : "stage";
    for (size_t k = 0; k < r.stages.size(); ++k)
      events.push_back({{"ph", "X"}, {"pid", 1}, {"tid", 1}, {"name", fmt::format("{} {}", what, k)},
                        {"ts", r.stages[k].first * 1e6}, {"dur", (r.stages[k].second - r.stages[k].first) * 1e6}});
    out.trace = {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
  }
  return out;
}

}  // namespace orrery
