// One simulation run from the command line's inputs: load and validate the system and
// workload (presets, --set overrides), check memory, simulate, and build the report.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hw/device.h"
#include "topologies/topology.h"
#include "workloads/memory_plan.h"
#include "workloads/workload.h"

namespace orrery {

struct RunRequest {
  std::string system;                  // YAML file or device preset name
  std::string workload;                // YAML file or workload preset name
  std::vector<std::string> overrides;  // "system.a.b=v" / "workload.a=v"
};

struct LoadedRun {
  RunRequest request;
  DeviceSpec device;
  WorkloadSpec workload;
  std::string system_name;
  int devices = 1;              // identical devices of type `device`
  int devices_per_node = 1;     // devices are grouped in nodes of this many
  int nodes = 1;                // devices / devices_per_node
  int cpus_per_node = 0;        // CPU endpoints per node (not devices; see SystemShape)
  SystemShape shape;            // the above, as planes see it
  std::vector<Plane> planes;    // network planes joining them
  nlohmann::json system_yaml;    // resolved system config (presets merged, overrides applied)
  nlohmann::json workload_yaml;  // resolved workload config
};

/// Loads and validates everything; throws ConfigError (exit 2) on bad input.
[[nodiscard]] LoadedRun load_run(const RunRequest& request);

struct RunOutput {
  nlohmann::json report;
  std::string summary_text;
  nlohmann::json trace;
};

/// What to produce besides the report and the summary.
struct RunOptions {
  bool trace = false;       // the Perfetto/Chrome trace
  bool op_records = false;  // one report entry per op of the reported step (else per-kind totals)
};

/// Checks memory (throws DoesNotFitError, exit 3), simulates, and reports.
[[nodiscard]] RunOutput execute_run(const LoadedRun& run, const RunOptions& options);

[[nodiscard]] const ParamTable& system_params();
[[nodiscard]] nlohmann::json yaml_to_json(const YAML::Node& node);

}  // namespace orrery
