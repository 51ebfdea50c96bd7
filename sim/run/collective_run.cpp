#include "sim/run/collective_run.h"

#include <fmt/format.h>
#include <systemc>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

#include "sim/config/errors.h"
#include "sim/report/sections.h"
#include "sim/report/trace.h"
#include "sim/engine/process_guard.h"
#include "sim/run/comm_hub.h"
#include "sim/run/multi_node_ring.h"
#include "sim/run/simulation.h"
#include "sim/units/quantity.h"
#include "workloads/collective_memory.h"

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
  // The first plane carrying collective traffic that connects the whole group (a node-scoped
  // plane does not connect devices of different nodes), else the first carrying it at all.
  const auto carries = [](const Plane& p) {
    return std::find(p.traffic.begin(), p.traffic.end(), "collective") != p.traffic.end();
  };
  for (const auto& p : run.planes)
    if (carries(p) && joins(p, run.workload.collective.group)) return p;
  for (const auto& p : run.planes)
    if (carries(p)) return p;
  return run.planes.front();
}

namespace {

/// One stage's flows on one plane.
struct Part {
  NetworkModule* net = nullptr;
  Stage stage;
};
/// Parts that run together (one plane, or both planes of a multi-node ring), and the rounds of
/// the algorithm they stand for (for the report).
struct Step {
  std::vector<Part> parts;
  long rounds = 0;
};

/// Issues the steps of a collective one after another on the network: every flow of a step
/// starts together (paying its stage's rounds of path latency and extra latency); the next
/// step starts when the last one arrived. Round-by-round expansion is the case of one-round
/// stages.
class CollectiveDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CollectiveDriver);
  CollectiveDriver(sc_core::sc_module_name name, std::vector<Step> steps, CollectiveResult& result,
                   bool channel_limited)
      : sc_module(name), steps_(std::move(steps)), result_(result), channel_limited_(channel_limited) {
    SC_METHOD(start);
  }

 private:
  void start() {
    guarded([this] { launch(0); });
  }
  void launch(size_t s) {
    const double now = sc_core::sc_time_stamp().to_seconds();
    if (s > 0) result_.stages.back().second = now;
    if (s >= steps_.size()) {
      result_.time = now;
      return;
    }
    result_.stages.push_back({now, now});
    result_.rounds += steps_[s].rounds;
    pending_ = 0;
    for (const auto& part : steps_[s].parts) pending_ += part.stage.flows.size();
    if (pending_ == 0) return launch(s + 1);
    for (const auto& part : steps_[s].parts) {
      const Stage& st = part.stage;
      for (const auto& f : st.flows) {
        ++result_.flows;
        part.net->start_flow(EndpointId{f.src}, EndpointId{f.dst}, f.bytes, [this, s] {
          if (--pending_ == 0) launch(s + 1);
        }, st.rounds, st.extra_latency, channel_limited_ ? st.channel_rate : 0.0);
      }
    }
  }

  std::vector<Step> steps_;
  CollectiveResult& result_;
  bool channel_limited_ = false;
  size_t pending_ = 0;
};

}  // namespace

CollectiveResult simulate_collective(const LoadedRun& run, PlaneId plane, const CollectiveSpec& c,
                                     bool record_rates) {
  CollectiveResult result;
  const auto t0 = std::chrono::steady_clock::now();
  // No ranks: the collective's flows are the whole workload.
  Simulation sim(run.device, run.workload.framework, run.planes, run.workload.parallel, {});
  std::vector<Step> steps;
  // The size ramp, as the comm hub applies it (all_to_all_v keeps the plain flow model).
  const bool ramp = c.op != CommKind::AllToAllV;
  // A ring over several nodes runs as NCCL's rings, one per NIC (sim/run/multi_node_ring.h),
  // unless a plane is named or another algorithm or the round-by-round expansion is asked for.
  std::optional<MultiNodeRing> ring;
  if (c.plane.empty() && c.expansion == "staged" && resolve_algorithm(c) == "ring")
    ring = multi_node_ring(run.planes, plane, "collective", c.op, c.bytes, c.group);
  // The hierarchical all-reduce across nodes: its two intra-node stages on the nodes' own plane
  // when every group of local_size members lies in one node (NCCL would not send them out).
  std::optional<PlaneId> up;
  if (!ring && c.plane.empty() && c.expansion == "staged" && resolve_algorithm(c) == "hierarchical") {
    up = scale_up_plane(run.planes, plane, "collective", c.group);
    const SystemShape& shape = run.planes[plane.index()].shape;
    const size_t m = static_cast<size_t>(node_size(c));
    for (size_t i = 0; up && i < c.group.size(); ++i)
      if (shape.node_of(c.group[i]) != shape.node_of(c.group[i - i % m])) up.reset();
  }
  if (up) {
    auto stages = expand_stages(c);  // intra reduce-scatter, inter all-reduce, intra all-gather
    if (stages.size() != 3) throw std::logic_error("hierarchical all-reduce without its three stages");
    std::vector<Stage> intra{stages[0], stages[2]}, inter{stages[1]};
    const std::string p_up = apply_ramp(run.planes[up->index()], intra);
    const std::string p_out = apply_ramp(run.planes[plane.index()], inter);
    result.expansion = c.expansion;
    result.protocol = p_out.empty() || p_out == p_up ? p_up : p_up + "/" + p_out;
    result.scale_up_plane = up;
    NetworkModule& in_node = sim.hub().network(*up);
    NetworkModule& across = sim.hub().network(plane);
    steps.push_back({{{&in_node, intra[0]}}, intra[0].rounds});
    steps.push_back({{{&across, inter[0]}}, inter[0].rounds});
    steps.push_back({{{&in_node, intra[1]}}, intra[1].rounds});
  } else if (ring) {
    result.expansion = "multi-node ring";
    result.protocol = ring->protocol;
    result.scale_up_plane = ring->up;
    steps.push_back({{{&sim.hub().network(ring->up), ring->up_stage}, {&sim.hub().network(ring->out), ring->out_stage}},
                     ring->steps});
  } else {
    std::vector<Stage> stages;
    if (c.expansion == "rounds") {
      for (auto& r : expand_collective(c)) stages.push_back({std::move(r), 1});
    } else {
      stages = expand_stages(c);
    }
    result.expansion = c.expansion;
    if (ramp) result.protocol = apply_ramp(run.planes[plane.index()], stages);
    for (auto& st : stages) {
      const long rounds = st.rounds;
      steps.push_back({{{&sim.hub().network(plane), std::move(st)}}, rounds});
    }
  }
  CollectiveDriver driver("collective", std::move(steps), result, ramp);
  sim.hub().record_rates(record_rates);
  SimulationResult r = sim.run();
  result.link_bytes = r.link_bytes[plane.index()];
  result.rate_log = std::move(r.rate_logs[plane.index()]);
  if (result.scale_up_plane) result.scale_up_link_bytes = r.link_bytes[result.scale_up_plane->index()];
  result.events = r.events + static_cast<long>(result.stages.size()) + 1;
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

RunOutput execute_collective(const LoadedRun& run, const RunOptions& options) {
  const CollectiveSpec& c = run.workload.collective;
  if (is_point_to_point(c.op)) return execute_point_to_point(run, options);
  // The buffers must fit in device memory (exit 3 with the breakdown, as a training step).
  check_fits(collective_memory(c), run.device.backing_memory().capacity, run.device.name);
  const Plane& plane = collective_plane(run);
  const PlaneId plane_id{static_cast<size_t>(&plane - run.planes.data())};
  for (int d : c.group)
    if (d >= plane.devices())
      throw ConfigError(fmt::format("collective: device {} is not on plane '{}'", d, plane.name));
  check_group_connected(plane, c.group);
  const CollectiveResult r = simulate_collective(run, plane_id, c, options.trace);
  const int n = static_cast<int>(c.group.size());
  const double algbw = c.bytes / r.time;
  const double busbw = algbw * bus_factor(c.op, n);
  RunOutput out;
  nlohmann::json& rep = out.report;
  rep = report_header(run, {{"name", run.system_name}, {"devices", run.devices}});
  rep["summary"] = {{"phase", "collective"},
                    {"op", comm_kind_name(c.op)},
                    {"algorithm", resolve_algorithm(c)},
                    {"plane", plane.name},
                    {"scale_up_plane", r.scale_up_plane ? run.planes[r.scale_up_plane->index()].name : "none"},
                    {"ranks", n},
                    {"local_size", node_size(c)},
                    {"bytes", c.bytes},
                    {"step_time_s", r.time},
                    {"algbw_GBps", algbw / 1e9},
                    {"busbw_GBps", busbw / 1e9},
                    {"expansion", r.expansion},
                    {"protocol", r.protocol.empty() ? "none" : r.protocol},
                    {"stages", r.stages.size()},
                    {"rounds", r.rounds}};
  std::vector<Plane> used{plane};
  std::vector<std::vector<double>> used_bytes{r.link_bytes};
  if (r.scale_up_plane) {
    used.push_back(run.planes[r.scale_up_plane->index()]);
    used_bytes.push_back(r.scale_up_link_bytes);
  }
  NetworkSection net = network_section(used, used_bytes, r.time, plane.links.size() + (r.scale_up_plane ? used.back().links.size() : 0));
  rep["planes"] = std::move(net.planes);
  rep["links"] = std::move(net.links);
  rep["sim"] = sim_section(r.events, r.time, r.wall_s);
  rep["sim"]["flows"] = r.flows;
  out.summary_text = fmt::format(
      "Orrery — {} ({}) of {} over {} ranks on plane '{}'{} of {}\n"
      "  time             {}\n  algbw            {:.1f} GB/s\n  busbw            {:.1f} GB/s\n{}"
      "  simulated {} flows in {} {} ({} rounds) with {} events in {:.1f} ms\n",
      comm_kind_name(c.op), resolve_algorithm(c), format_quantity(c.bytes, Dim::Bytes), n, plane.name,
      r.scale_up_plane
          ? fmt::format(" between nodes and '{}' inside them", run.planes[r.scale_up_plane->index()].name)
          : std::string(),
      run.system_name, format_quantity(r.time, Dim::Time), algbw / 1e9, busbw / 1e9,
      r.protocol.empty() ? std::string() : fmt::format("  protocol         {}\n", r.protocol), r.flows,
      r.stages.size(), r.expansion == "rounds" ? "rounds" : r.expansion == "multi-node ring" ? "stage (multi-node ring)" : "stages",
      r.rounds, r.events, 1e3 * r.wall_s);
  if (options.trace) {
    std::vector<TraceSpan> spans;
    const char* what = r.expansion == "rounds" ? "round" : "stage";
    for (size_t k = 0; k < r.stages.size(); ++k)
      spans.push_back({fmt::format("{} {}", what, k), r.stages[k].first, r.stages[k].second});
    out.trace = network_trace(plane, std::string("collective ") + comm_kind_name(c.op), spans, r.rate_log);
  }
  return out;
}

}  // namespace orrery

// ---- Group connectivity and point-to-point transfers (systems branch) ----------------------

namespace orrery {

void check_group_connected(const Plane& plane, const std::vector<int>& group) {
  for (int a : group)
    for (int b : group) {
      if (a == b || plane.connects(EndpointId{a}, EndpointId{b})) continue;
      const auto& sh = plane.shape;
      throw ConfigError(fmt::format(
          "workload.collective.group: devices {} ({}) and {} ({}) are not connected by plane '{}' "
          "(scope: {}{}); choose a plane that joins them with --set workload.collective.plane=NAME, "
          "or a group inside one node",
          a, sh.name(a), b, sh.name(b), plane.name, plane.scope,
          plane.scope == "node" ? ": it joins only devices of the same node" : ""));
    }
}

PointToPointTime point_to_point_time(const Plane& plane, int src, int dst, double bytes, bool write) {
  // Data flows src -> dst for a write, dst -> src for a read.
  const EndpointId s{src}, d{dst};
  const EndpointId from = write ? s : d, to = write ? d : s;
  std::vector<Path> paths = plane.spread ? plane.routes(from, to) : std::vector<Path>{plane.route(from, to)};
  const double eff = write ? plane.write_efficiency : plane.read_efficiency;
  std::vector<double> capacity;
  for (const auto& l : plane.links) capacity.push_back(l.bandwidth * eff);
  PointToPointTime t;
  for (double r : max_min_path_rates(paths, capacity)) t.rate += r;
  t.paths = static_cast<int>(paths.size());
  t.hops = static_cast<int>(paths.front().size());
  const double out = plane.path_latency(plane.route(s, d));  // request or data, src -> dst
  const double back = plane.path_latency(plane.route(d, s));  // data or acknowledgement
  const double access = plane.shape.is_cpu(dst) ? plane.cpu_access_latency : plane.access_latency;
  t.latency = out + access + back + (write ? plane.write_latency : 0.0);
  t.time = t.latency + bytes / t.rate;
  return t;
}

namespace {

int resolve_endpoint(const LoadedRun& run, const std::string& key, const std::string& text) {
  const SystemShape& sh = run.shape;
  int e = -1;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    // At most 9 digits fit an int; a longer index is out of range like any other unknown one.
    e = text.size() <= 9 ? std::stoi(text) : -1;
    if (e >= sh.devices) e = -1;
  } else {
    e = sh.find(text);
  }
  if (e >= 0) return e;
  std::string valid = fmt::format("a device index 0..{}, or a name {} .. {}", sh.devices - 1,
                                  sh.name(0), sh.name(sh.devices - 1));
  if (sh.cpus() > 0) valid += fmt::format(", {} .. {}", sh.name(sh.devices), sh.name(sh.endpoints() - 1));
  throw ConfigError(fmt::format("workload.collective.{}: unknown endpoint '{}'; valid: {}", key, text, valid));
}

}  // namespace

RunOutput execute_point_to_point(const LoadedRun& run, const RunOptions& options) {
  const CollectiveSpec& c = run.workload.collective;
  const int src = resolve_endpoint(run, "src", c.src);
  const int dst = resolve_endpoint(run, "dst", c.dst);
  const SystemShape& sh = run.shape;
  // The same endpoint under two spellings ("0" and "n0.d0"): no path, no transfer to time.
  if (src == dst)
    throw ConfigError(fmt::format("workload.collective.dst: '{}' is the same endpoint as src '{}' ({}); a "
                                  "transfer needs two different endpoints", c.dst, c.src, sh.name(src)));
  // The named plane, or the first that connects src to dst.
  const Plane* plane = nullptr;
  std::string names;
  for (const auto& p : run.planes) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (c.plane.empty() ? (!plane && p.connects(EndpointId{src}, EndpointId{dst}) && p.connects(EndpointId{dst}, EndpointId{src})) : p.name == c.plane) plane = &p;
  }
  if (!plane && !c.plane.empty())
    throw ConfigError(fmt::format("workload.collective.plane: unknown plane '{}'; the system has: {}", c.plane, names));
  if (!plane || !plane->connects(EndpointId{src}, EndpointId{dst}) || !plane->connects(EndpointId{dst}, EndpointId{src}))
    throw ConfigError(fmt::format(
        "workload.collective: no plane {}connects {} and {} (planes: {}; a CPU is reachable only on "
        "planes with cpus: true, and a node-scoped plane joins only endpoints of one node)",
        c.plane.empty() ? "" : "named '" + c.plane + "' ", sh.name(src), sh.name(dst), names));
  const bool write = c.op == CommKind::Write;
  const PointToPointTime t = point_to_point_time(*plane, src, dst, c.bytes, write);
  RunOutput out;
  nlohmann::json& rep = out.report;
  rep = report_header(run, {{"name", run.system_name}, {"devices", run.devices}, {"nodes", run.nodes},
                            {"cpus", sh.cpus()}});
  rep["summary"] = {{"phase", "collective"},
                    {"op", comm_kind_name(c.op)},
                    {"plane", plane->name},
                    {"src", sh.name(src)},
                    {"dst", sh.name(dst)},
                    {"bytes", c.bytes},
                    {"step_time_s", t.time},
                    {"latency_us", t.time * 1e6},
                    {"fixed_latency_us", t.latency * 1e6},
                    {"bandwidth_GBps", c.bytes / t.time / 1e9},
                    {"path_rate_GBps", t.rate / 1e9},
                    {"hops", t.hops},
                    {"paths", t.paths}};
  rep["sim"] = sim_section(0, t.time, 0.0);
  rep["sim"]["flows"] = t.paths;
  out.summary_text = fmt::format(
      "Orrery — {} of {} by {} from {} on plane '{}' of {}\n"
      "  time             {}\n  bandwidth        {:.1f} GB/s\n  fixed latency    {}\n"
      "  {} hops each way, spread over {} paths (closed form, no events)\n",
      comm_kind_name(c.op), format_quantity(c.bytes, Dim::Bytes), sh.name(src), sh.name(dst), plane->name,
      run.system_name, format_quantity(t.time, Dim::Time), c.bytes / t.time / 1e9,
      format_quantity(t.latency, Dim::Time), t.hops, t.paths);
  if (options.trace)
    out.trace = network_trace(*plane, "", {{comm_kind_name(c.op) + std::string(" ") + sh.name(dst), 0.0, t.time}}, {});
  return out;
}

}  // namespace orrery
