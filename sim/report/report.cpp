#include "sim/report/report.h"

#include <fmt/format.h>

#include "sim/report/layer_breakdown.h"
#include "sim/report/sections.h"
#include "sim/units/quantity.h"
#include "workloads/builders/microbench.h"

namespace orrery {

StepOutcome analyse_step(const LoadedRun& run, const SimulationResult& sim,
                         const std::vector<MemoryPlan>& plans) {
  StepOutcome st;
  st.run = &run;
  st.sim = &sim;
  st.plans = &plans;
  for (const auto& r : sim.ranks) st.ranks.push_back(rank_activity(r));
  // The step: from the first rank starting its last iteration to the last rank finishing it.
  st.start = st.ranks.front().window.start;
  for (size_t i = 0; i < st.ranks.size(); ++i) {
    st.start = std::min(st.start, st.ranks[i].window.start);
    if (st.ranks[i].window.end > st.end) st.end = st.ranks[i].window.end, st.slowest = i;
  }
  return st;
}

nlohmann::json build_report(const StepOutcome& st, const RunOptions& options) {
  const LoadedRun& run = *st.run;
  const RankResult& crit = st.critical();
  const StepWindow& win = st.ranks[st.slowest].window;
  nlohmann::json rep =
      report_header(run, {{"name", run.system_name}, {"device", device_json(run.device)}});
  rep["summary"] = summary_section(st);
  if (run.workload.phase != Phase::microbench) rep["model"] = model_section(run.workload.model);
  if (run.workload.model.moe.enabled()) {
    rep["moe"] = moe_section(st);
    rep["moe"]["breakdown"] = layer_breakdown(crit, win, rep["moe"]["moe_layers"].get<long>());
  }
  const MemoryPlan& plan = (*st.plans)[static_cast<size_t>(crit.stage)];
  if (!plan.items.empty()) rep["memory"] = memory_section(plan);
  if (auto b = bottleneck_section(crit, win); !b.is_null()) rep["bottlenecks"] = std::move(b);
  if (run.workload.phase == Phase::microbench) {
    const auto times = microbench_times(run.workload, crit.records);
    for (size_t i = 0; i < times.size(); ++i)
      rep["microbench"].push_back({{"row", i}, {"kind", run.workload.micro[i].kind}, {"time_s", times[i]}});
  }
  rep["op_kinds"] = op_kinds_section(crit, win);
  if (options.op_records) rep["ops"] = op_records_section(crit, win);
  const SimulationResult& sim = *st.sim;
  long ops = 0;
  for (const auto& r : sim.ranks) ops += static_cast<long>(r.records.size());
  rep["sim"] = sim_section(sim.events, sim.makespan, sim.wall_s);
  rep["sim"]["ops"] = ops;
  if (run.devices > 1) {
    rep["parallel"] = parallel_section(st);
    NetworkSection net = network_section(run.planes, sim.link_bytes, sim.makespan, 32);
    rep["planes"] = std::move(net.planes);
    rep["links"] = std::move(net.links);
    rep["sim"]["flows"] = sim.flows;
    if (sim.aggregated > 0) {
      rep["sim"]["aggregated_transfers"] = sim.aggregated;
      rep["sim"]["aggregate_overlaps"] = sim.aggregate_overlaps;
    }
    rep["sim"]["ranks_simulated"] = sim.ranks.size();
  }
  return rep;
}

namespace {

std::string parallel_text(const LoadedRun& run, const nlohmann::json& rep) {
  const ParallelSpec& par = run.workload.parallel;
  const auto& s = rep["summary"];
  std::string out = fmt::format(
      "  parallel         dp {} x tp {} x pp {}{}{} = {} devices{}; global batch {}\n"
      "  network          {} per step on the slowest rank ({}), {} exposed\n",
      par.dp, par.tp, par.pp, par.sp ? " (sp)" : "", par.zero ? ", ZeRO-1" : "", par.ranks(),
      par.attention == AttentionLayout::sp_tp_sp ? fmt::format("; MLA split sp_tp_sp in groups of {}", par.attention_group) : "",
      s["global_batch"].get<double>(), format_quantity(s["comm_s"].get<double>(), Dim::Time),
      s["slowest_rank"].get<int>(), format_quantity(s["comm_exposed_s"].get<double>(), Dim::Time));
  for (const auto& pl : rep["planes"])
    if (pl["bytes"].get<double>() > 0)
      out += fmt::format("    plane {:<12} {} carried, busiest link {:.0f}% busy\n",
                         pl["name"].get<std::string>(),
                         format_quantity(pl["bytes"].get<double>(), Dim::Bytes),
                         100 * pl["busiest_link_utilization"].get<double>());
  return out;
}

}  // namespace

std::string summary_text(const LoadedRun& run, const nlohmann::json& rep) {
  const auto& s = rep["summary"];
  const WorkloadSpec& w = run.workload;
  std::string out = fmt::format("Orrery — {} on {} ({})\n", phase_name(w.phase),
                                run.system_name, run.device.name);
  if (w.phase != Phase::microbench)
    out += fmt::format("  model {} · batch {} · seq {} · {} · {}\n", w.model.name, w.batch,
                       w.seq_len, dtype_name(w.precision),
                       w.framework == Framework::eager ? "eager" : "graph");
  out += fmt::format("  step time        {}\n", format_quantity(s["step_time_s"].get<double>(), Dim::Time));
  if (!s["ttft_s"].is_null())
    out += fmt::format("  TTFT             {}\n", format_quantity(s["ttft_s"].get<double>(), Dim::Time));
  if (!s["tpot_s"].is_null())
    out += fmt::format("  TPOT             {}\n", format_quantity(s["tpot_s"].get<double>(), Dim::Time));
  out += fmt::format("  tokens/s         {:.1f}\n", s["tokens_per_s"].get<double>());
  out += fmt::format("  MFU              {:.1f}%\n", 100 * s["mfu"].get<double>());
  out += fmt::format("  peak memory      {} of {}\n",
                     format_quantity(s["peak_memory_bytes"].get<double>(), Dim::Bytes),
                     format_quantity(s["memory_capacity_bytes"].get<double>(), Dim::Bytes));
  out += "  bottlenecks (share of critical path, busy fraction):\n";
  for (const auto& b : rep["bottlenecks"]) {
    if (b["critical_path_share"].get<double>() < 0.005 && b["busy_fraction"].get<double>() < 0.005) continue;
    out += fmt::format("    {:<20} {:>6.1f}%  {:>6.1f}%\n", b["resource"].get<std::string>(),
                       100 * b["critical_path_share"].get<double>(),
                       100 * b["busy_fraction"].get<double>());
  }
  if (rep.contains("microbench")) {
    out += "  micro-benchmark rows (steady-state time per call):\n";
    for (const auto& m : rep["microbench"])
      out += fmt::format("    row {:>3} {:<10} {}\n", m["row"].get<size_t>(),
                         m["kind"].get<std::string>(),
                         format_quantity(m["time_s"].get<double>(), Dim::Time));
  }
  out += fmt::format("  simulated {} ops with {} events in {:.1f} ms\n",
                     rep["sim"]["ops"].get<long>(), rep["sim"]["events"].get<long>(),
                     1e3 * rep["sim"]["wall_s"].get<double>());
  if (rep.contains("parallel")) out += parallel_text(run, rep);
  return out;
}

}  // namespace orrery
