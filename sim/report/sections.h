// The sections a report is made of; each is written once and used by every kind of run.
#pragma once
#include <nlohmann/json.hpp>

#include <vector>

#include "sim/report/report.h"

namespace orrery {

/// orrery (version, schema), inputs (what the run can be reproduced from), system.
[[nodiscard]] nlohmann::json report_header(const LoadedRun& run, nlohmann::json system);
[[nodiscard]] nlohmann::json inputs_json(const LoadedRun& run);
[[nodiscard]] nlohmann::json device_json(const DeviceSpec& d);

/// Step time, throughput, MFU and memory of the whole system; communication when parallel.
[[nodiscard]] nlohmann::json summary_section(const StepOutcome& step);
/// The model's name, parameters (main model) and parameters active per token.
[[nodiscard]] nlohmann::json model_section(const ModelSpec& m);
[[nodiscard]] nlohmann::json memory_section(const MemoryPlan& plan);
/// MoE models: expert parallelism, routing, (token, expert) assignments per rank (max and
/// mean over ranks, averaged over the MoE layers), the busiest rank's expert time and what
/// the imbalance cost: its expert kernels alone, minus the same kernels with the mean rows.
[[nodiscard]] nlohmann::json moe_section(const StepOutcome& step);
[[nodiscard]] nlohmann::json bottleneck_section(const RankResult& rank, const StepWindow& window);
/// The layout and every simulated rank's step.
[[nodiscard]] nlohmann::json parallel_section(const StepOutcome& step);

/// Per plane and per link: bytes carried / (capacity x time). Links that carried bytes, busiest
/// first, at most `max_links` of them.
struct NetworkSection {
  nlohmann::json planes = nlohmann::json::array();
  nlohmann::json links = nlohmann::json::array();
};
[[nodiscard]] NetworkSection network_section(const std::vector<Plane>& planes,
                                             const std::vector<std::vector<double>>& link_bytes,
                                             double time, size_t max_links);

/// The reported step's ops: aggregates per op category, and with `records` one entry per op.
[[nodiscard]] nlohmann::json op_kinds_section(const RankResult& rank, const StepWindow& window);
[[nodiscard]] nlohmann::json op_records_section(const RankResult& rank, const StepWindow& window);

/// Simulator figures (wall-clock fields are the only ones that vary between identical runs).
[[nodiscard]] nlohmann::json sim_section(long events, double simulated_s, double wall_s);

}  // namespace orrery
