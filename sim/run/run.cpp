#include "sim/run/run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "sim/report/report.h"
#include "sim/report/trace.h"
#include "sim/run/collective_run.h"
#include "sim/run/simulation.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/builders/transformer.h"

namespace orrery {

const ParamTable& system_params() {
  static const ParamTable t{
      "system",
      "What the workload runs on: identical devices, grouped in nodes, optionally with CPUs, "
      "joined by network planes; a bare device preset name is a one-device system.",
      {
          {"name", ParamType::String, Dim::Dimensionless, "-", "system name"},
          {"description", ParamType::String, Dim::Dimensionless, "-", "what this system is"},
          {"device", ParamType::Any, Dim::Dimensionless, "", "a device preset name, or {preset: name, overrides...}, or a full device (see `device`)"},
          {"devices", ParamType::Integer, Dim::Dimensionless, "1", "how many such devices the system has (at most 1,048,576)", {}, false, 0, false, 1048576.0},
          {"devices_per_node", ParamType::Integer, Dim::Dimensionless, "", "devices per node (default: devices, one node); devices must be a multiple. Device i is in node i / devices_per_node", {}, true},
          {"cpus_per_node", ParamType::Integer, Dim::Dimensionless, "0", "CPUs per node: endpoints on planes with cpus: true (named like n3.cpu1), not devices (at most 4,096; devices and CPUs together at most 1,048,576)", {}, false, 0, true, 4096.0},
          {"planes", ParamType::Any, Dim::Dimensionless, "", "mapping name -> network plane joining the devices (see `plane`)", {}, true},
      }};
  return t;
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it)
      j[it->first.as<std::string>()] = yaml_to_json(it->second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& item : node) j.push_back(yaml_to_json(item));
    return j;
  }
  if (node.IsScalar()) return node.as<std::string>();
  return nullptr;
}

namespace {

bool is_file(const std::string& s) {
  return s.find(".yaml") != std::string::npos || s.find(".yml") != std::string::npos ||
         s.find('/') != std::string::npos || std::filesystem::exists(s);
}

YAML::Node load_system_doc(const std::string& system) {
  if (is_file(system)) return load_yaml_file(system);
  const auto systems = preset_names(PresetKind::System);
  if (std::find(systems.begin(), systems.end(), system) != systems.end()) {
    const YAML::Node ctx = load_yaml_text("{}", "--system " + system);
    return load_preset(PresetKind::System, system, ctx, "--system");
  }
  // A bare device preset: a one-device system.
  YAML::Node doc = load_yaml_text(fmt::format("name: {}\ndevice: {{preset: {}}}\n", system, system),
                                  "--system " + system);
  (void)load_preset(PresetKind::Device, system, doc["device"], "--system");
  return doc;
}

YAML::Node load_workload_doc(const std::string& workload) {
  if (is_file(workload)) return load_yaml_file(workload);
  YAML::Node ctx = load_yaml_text("{}", "--workload " + workload);
  return load_preset(PresetKind::Workload, workload, ctx, "--workload");
}

}  // namespace

LoadedRun load_run(const RunRequest& request) {
  LoadedRun run;
  run.request = request;
  YAML::Node system = load_system_doc(request.system);
  YAML::Node workload = load_workload_doc(request.workload);
  for (const auto& text : request.overrides) {
    const Override o = parse_override(text);
    auto keys = split_path(o.path);
    const std::string doc = keys.front();
    keys.erase(keys.begin());
    if ((doc != "system" && doc != "workload") || keys.empty())
      throw ConfigError(fmt::format(
          "--set {}: the path must start with 'system.' or 'workload.' (e.g. "
          "system.device.memory.hbm.bandwidth='1.6 TB/s', workload.batch=8)",
          text));
    apply_override(doc == "system" ? system : workload, keys, o.value, text);
  }
  const Section s(system, "system", system_params());
  run.system_name = s.string("name");
  const YAML::Node device = resolve_preset(PresetKind::Device, s.node("device"), "system.device");
  run.device = read_device(device, "system.device");
  run.devices = static_cast<int>(s.integer("devices"));
  run.devices_per_node = s.has("devices_per_node") ? static_cast<int>(s.integer("devices_per_node")) : run.devices;
  if (run.devices % run.devices_per_node != 0) {
    std::string divisors;
    for (int d = 1; d <= run.devices; ++d)
      if (run.devices % d == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(d);
    s.fail("devices_per_node", fmt::format("value {} does not divide devices ({}); devices must be a "
                                           "multiple of devices_per_node (divisors of {}: {})",
                                           run.devices_per_node, run.devices, run.devices, divisors));
  }
  run.nodes = run.devices / run.devices_per_node;
  run.cpus_per_node = static_cast<int>(s.integer("cpus_per_node"));
  // Every CPU is a network endpoint like a device: the same budget covers both.
  if (double(run.devices) + double(run.nodes) * run.cpus_per_node > 1048576.0)
    s.fail("cpus_per_node", fmt::format("{} nodes x {} CPUs + {} devices is over the 1,048,576 endpoints "
                                        "one system may have; lower cpus_per_node or devices",
                                        run.nodes, run.cpus_per_node, run.devices));
  run.shape = {run.devices, run.devices_per_node, run.cpus_per_node};
  // The workload is read before the planes are built: it needs only the device count, and a
  // plane's route tables (one BFS per endpoint; ~0.5 s on cloudmatrix384) are the slowest part
  // of loading, so a mistake in the workload is reported without waiting for them.
  run.workload = read_workload(workload, "workload", run.devices);
  if (s.has("planes")) {
    const YAML::Node planes = s.node("planes");
    if (!planes.IsMap() || planes.size() == 0)
      s.fail("planes", "expected a mapping of plane name -> plane");
    for (auto it = planes.begin(); it != planes.end(); ++it) {
      const std::string name = it->first.as<std::string>();
      run.planes.push_back(build_plane(Section(it->second, "system.planes." + name, plane_params()),
                                       name, run.shape));
    }
  } else if (run.devices > 1) {
    s.fail("planes", "a system with more than one device needs at least one network plane");
  }
  YAML::Node resolved_system = YAML::Clone(system);
  resolved_system["device"] = device;
  run.system_yaml = yaml_to_json(resolved_system);
  YAML::Node resolved_workload = YAML::Clone(workload);
  if (workload["model"])
    resolved_workload["model"] = resolve_preset(PresetKind::Model, workload["model"], "workload.model");
  run.workload_yaml = yaml_to_json(resolved_workload);
  return run;
}

namespace {

/// Every matmul dtype the workload uses must have a peak on the device's matrix engine.
void check_dtypes(const LoadedRun& run) {
  const auto& peaks = run.device.matrix_engine().peak;
  std::vector<Dtype> used;
  if (run.workload.phase == Phase::microbench) {
    for (const auto& m : run.workload.micro)
      if (m.kind == "gemm" || m.kind == "attention") used.push_back(m.dtype);
  } else {
    used.push_back(numerics_of(run.workload).matmul);
  }
  for (Dtype dt : used) {
    if (peaks.count(dt)) continue;
    std::string have;
    for (const auto& [d, v] : peaks) have += (have.empty() ? "" : ", ") + std::string(dtype_name(d));
    throw ConfigError(fmt::format(
        "workload: precision {} is not supported by device '{}' (its matrix engine '{}' has peaks "
        "for: {}); choose one of those with --set workload.precision=..., or add a peak under "
        "system.device.engines.{}.peak",
        dtype_name(dt), run.device.name, run.device.matrix_engine().name, have,
        run.device.matrix_engine().name));
  }
}

/// Peak memory of every pipeline stage; throws DoesNotFitError (exit 3) for one that does not fit.
std::vector<MemoryPlan> plan_stages(const LoadedRun& run) {
  const int pp = run.workload.parallel.pp;
  std::vector<MemoryPlan> plans;
  for (int p = 0; p < pp; ++p) {
    plans.push_back(plan_memory(run.workload, p));
    check_fits(plans.back(), run.device.backing_memory().capacity,
               pp > 1 ? fmt::format("{} (pipeline stage {})", run.device.name, p) : run.device.name);
  }
  return plans;
}

/// The ranks to simulate: every rank, or one per pipeline stage (t = 0, d = 0) standing for
/// its identical peers (docs/parallelism.md §3); each runs its stage's op graph.
std::vector<RankPlan> simulated_ranks(const ParallelSpec& par, std::vector<GraphSource>& stages) {
  std::vector<RankPlan> ranks;
  for (int r = 0; r < par.ranks(); ++r) {
    const RankCoord c = coord_of(par, r);
    if (par.all_ranks || (c.t == 0 && c.d == 0))
      ranks.push_back({r, c.p, &stages[static_cast<size_t>(c.p)]});
  }
  return ranks;
}

}  // namespace

RunOutput execute_run(const LoadedRun& run, const RunOptions& options) {
  if (run.workload.phase == Phase::collective) return execute_collective(run, options);
  check_dtypes(run);
  check_workload_size(run.workload);  // before planning or building anything
  const std::vector<MemoryPlan> plans = plan_stages(run);
  // Wall time covers building the operator graphs and simulating them (not loading or reporting).
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<GraphSource> stages;
  stages.reserve(static_cast<size_t>(run.workload.parallel.pp));
  for (int p = 0; p < run.workload.parallel.pp; ++p) stages.emplace_back(build_graph(run.workload, p));
  Simulation sim(run.device, run.workload.framework, run.planes, run.workload.parallel,
                 simulated_ranks(run.workload.parallel, stages));
  sim.hub().record_rates(options.trace);
  SimulationResult result = sim.run();
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const StepOutcome step = analyse_step(run, result, plans);
  RunOutput out;
  out.report = build_report(step, options);
  out.summary_text = summary_text(run, out.report);
  if (options.trace) out.trace = step_trace(step);
  return out;
}

}  // namespace orrery
