// The report of a run, made of sections (sim/report/sections.h): header, summary, memory,
// bottlenecks, parallel, network, ops, sim. Model workloads (one device or many) and network
// workloads (a lone collective) share the sections they have in common; schema in docs/report.md.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "sim/report/analysis.h"
#include "sim/run/run.h"

namespace orrery {

/// A model workload's step, analysed: what its report, summary and trace are made from.
struct StepOutcome {
  const LoadedRun* run = nullptr;
  const SimulationResult* sim = nullptr;
  const std::vector<MemoryPlan>* plans = nullptr;  // per pipeline stage
  std::vector<RankActivity> ranks;                 // per simulated rank
  size_t slowest = 0;                              // the rank whose step ended last
  double start = 0, end = 0;                       // the step, over every rank
  [[nodiscard]] const RankResult& critical() const { return sim->ranks[slowest]; }
  [[nodiscard]] double step() const { return end - start; }
};
[[nodiscard]] StepOutcome analyse_step(const LoadedRun& run, const SimulationResult& sim,
                                       const std::vector<MemoryPlan>& plans);

[[nodiscard]] nlohmann::json build_report(const StepOutcome& step, const RunOptions& options);
/// The human summary printed on stdout.
[[nodiscard]] std::string summary_text(const LoadedRun& run, const nlohmann::json& report);

}  // namespace orrery
