// Report JSON (schema in docs/report.md), the human summary, and the Perfetto/Chrome trace.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "sim/exec/executor.h"
#include "sim/run.h"

namespace orrery {

/// The inputs a run can be reproduced from: paths/presets, overrides, resolved configs.
[[nodiscard]] nlohmann::json inputs_json(const LoadedRun& run);
[[nodiscard]] nlohmann::json build_report(const LoadedRun& run, const OpGraph& g,
                                          const SimResult& r, const MemoryPlan& plan);
[[nodiscard]] std::string summary_text(const LoadedRun& run, const nlohmann::json& report);
/// Chrome trace-event JSON: one track per resource (host, engines, network, memory levels),
/// as process `pid` named `process` (default: the device's name).
[[nodiscard]] nlohmann::json build_trace(const LoadedRun& run, const OpGraph& g,
                                         const SimResult& r, int pid = 1,
                                         const std::string& process = "");

}  // namespace orrery
