#include "sim/report/report.h"

#include <fmt/format.h>

#include "sim/report/analysis.h"
#include "sim/units/quantity.h"
#include "workloads/builders/microbench.h"
#include "workloads/builders/transformer.h"

namespace orrery {

namespace {

nlohmann::json op_json(const Op& op, const OpRecord& rec, const ResourceNames& names) {
  nlohmann::json j;
  j["name"] = op.name;
  j["category"] = op.category;
  j["pass"] = pass_name(op.pass);
  j["layer"] = op.layer;
  j["start_s"] = rec.start;
  j["end_s"] = rec.end;
  j["flops"] = op.flops;
  j["bytes"] = op.bytes;
  j["kernels"] = op.kernels;
  j["engine"] = rec.engine;
  j["memory_level"] = rec.level >= 0 ? names.memory[static_cast<size_t>(rec.level)] : "";
  j["bound"] = rec.bound;
  j["waited_for"] = wait_reason_name(rec.waited);
  const double dur = rec.end - rec.start;
  j["operational_intensity"] = op.bytes > 0 ? op.flops / op.bytes : 0.0;
  j["achieved_flops_per_s"] = dur > 0 ? op.flops / dur : 0.0;
  j["achieved_bytes_per_s"] = dur > 0 ? op.bytes / dur : 0.0;
  return j;
}

nlohmann::json device_json(const DeviceSpec& d) {
  nlohmann::json j;
  j["name"] = d.name;
  for (const auto& [dt, v] : d.matrix_engine().peak) j["matrix_peak_flops"][dtype_name(dt)] = v;
  for (const auto& m : d.memory)
    j["memory"].push_back({{"name", m.name}, {"capacity_bytes", m.capacity},
                           {"bandwidth_Bps", m.bandwidth}, {"efficiency", m.efficiency}});
  return j;
}

}  // namespace

nlohmann::json inputs_json(const LoadedRun& run) {
  return {{"system", run.request.system},
          {"workload", run.request.workload},
          {"overrides", run.request.overrides},
          {"system_resolved", run.system_yaml},
          {"workload_resolved", run.workload_yaml}};
}

nlohmann::json build_report(const LoadedRun& run, const OpGraph& g, const SimResult& r,
                            const MemoryPlan& plan) {
  const WorkloadSpec& w = run.workload;
  const StepWindow win = last_step(g, r);
  const double step = win.length();
  nlohmann::json rep;
  rep["orrery"] = {{"version", "0.1"}, {"report_schema", 1}};
  rep["inputs"] = inputs_json(run);
  rep["system"] = {{"name", run.system_name}, {"device", device_json(run.device)}};
  nlohmann::json s;
  s["phase"] = phase_name(w.phase);
  s["step_time_s"] = step;
  s["iterations_simulated"] = w.phase == Phase::microbench ? 1 : w.iterations;
  double tokens = 0;
  switch (w.phase) {
    case Phase::train:
    case Phase::block:
    case Phase::prefill: tokens = double(w.batch) * double(w.seq_len); break;
    case Phase::decode: tokens = double(w.batch) * double(w.decode_tokens); break;
    case Phase::microbench:
    case Phase::collective: break;
  }
  s["tokens_per_s"] = step > 0 ? tokens / step : 0.0;
  s["ttft_s"] = w.phase == Phase::prefill ? nlohmann::json(step) : nlohmann::json(nullptr);
  s["tpot_s"] = w.phase == Phase::decode ? nlohmann::json(step / double(w.decode_tokens))
                                         : nlohmann::json(nullptr);
  const double flops = window_matrix_flops(g, win);
  const Dtype mm = w.phase == Phase::microbench ? Dtype::bf16 : numerics_of(w).matmul;
  const auto& peaks = run.device.matrix_engine().peak;
  const double peak = peaks.count(mm) ? peaks.at(mm) : 0;
  s["model_flops"] = flops;
  s["mfu"] = (step > 0 && peak > 0) ? flops / (step * peak) : 0.0;
  s["peak_memory_bytes"] = plan.peak;
  s["memory_capacity_bytes"] = run.device.backing_memory().capacity;
  rep["summary"] = s;
  for (const auto& item : plan.items)
    rep["memory"].push_back({{"item", item.name}, {"bytes", item.bytes}, {"note", item.note}});
  for (const auto& b : bottlenecks(g, r, win))
    rep["bottlenecks"].push_back({{"resource", b.resource},
                                  {"busy_s", b.busy_s},
                                  {"busy_fraction", b.busy_fraction},
                                  {"critical_path_s", b.critical_s},
                                  {"critical_path_share", b.critical_share}});
  if (w.phase == Phase::microbench) {
    const auto times = microbench_times(w, g, r.records);
    for (size_t i = 0; i < times.size(); ++i)
      rep["microbench"].push_back({{"row", i}, {"kind", w.micro[i].kind}, {"time_s", times[i]}});
  }
  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < r.records.size(); ++i)
    if (g[i].iteration == win.iteration) ops.push_back(op_json(g[i], r.records[i], r.resources));
  rep["ops"] = std::move(ops);
  rep["sim"] = {{"events", r.events},
                {"ops", r.records.size()},
                {"simulated_s", r.makespan},
                {"wall_s", r.wall_s},
                {"events_per_s", r.wall_s > 0 ? double(r.events) / r.wall_s : 0.0}};
  return rep;
}

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
                     rep["sim"]["ops"].get<size_t>(), rep["sim"]["events"].get<long>(),
                     1e3 * rep["sim"]["wall_s"].get<double>());
  return out;
}

nlohmann::json build_trace(const LoadedRun& run, const OpGraph& g, const SimResult& r, int pid,
                           const std::string& process) {
  nlohmann::json events = nlohmann::json::array();
  // Track ids: 1 host, 2.. engines, then memory levels, then the network (if used).
  std::vector<std::string> tracks = {r.resources.host};
  for (const auto& e : r.resources.engines) tracks.push_back("engine " + e);
  for (const auto& m : r.resources.memory) tracks.push_back("memory " + m);
  bool network = false;
  for (size_t i = 0; i < r.records.size(); ++i) network = network || g[i].kind == OpKind::Comm;
  if (network) tracks.push_back("network");
  const int network_tid = static_cast<int>(tracks.size());
  events.push_back({{"ph", "M"}, {"pid", pid}, {"name", "process_name"},
                    {"args", {{"name", process.empty() ? run.device.name : process}}}});
  for (size_t t = 0; t < tracks.size(); ++t) {
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", t + 1}, {"name", "thread_name"},
                      {"args", {{"name", tracks[t]}}}});
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", t + 1}, {"name", "thread_sort_index"},
                      {"args", {{"sort_index", t}}}});
  }
  auto engine_tid = [&](const std::string& e) {
    for (size_t i = 0; i < r.resources.engines.size(); ++i)
      if (r.resources.engines[i] == e) return static_cast<int>(i) + 2;
    return 1;
  };
  const int mem_base = 2 + static_cast<int>(r.resources.engines.size());
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = g[i];
    const OpRecord& rec = r.records[i];
    const nlohmann::json args = {{"category", op.category}, {"bound", rec.bound},
                                 {"waited_for", wait_reason_name(rec.waited)},
                                 {"flops", op.flops}, {"bytes", op.bytes},
                                 {"pass", pass_name(op.pass)}, {"iteration", op.iteration}};
    events.push_back({{"ph", "X"}, {"pid", pid}, {"tid", 1}, {"name", op.name + " (launch)"},
                      {"ts", rec.issue_start * 1e6}, {"dur", (rec.issue_end - rec.issue_start) * 1e6},
                      {"args", {{"kernels", op.kernels}, {"modules", op.modules}}}});
    if (op.kind == OpKind::Host) continue;
    events.push_back({{"ph", "X"}, {"pid", pid},
                      {"tid", op.kind == OpKind::Comm ? network_tid : engine_tid(rec.engine)},
                      {"name", op.name}, {"ts", rec.start * 1e6},
                      {"dur", (rec.end - rec.start) * 1e6}, {"args", args}});
    if (rec.level >= 0 && op.bytes > 0) {
      const double dur = rec.end - rec.start;
      events.push_back({{"ph", "X"}, {"pid", pid}, {"tid", mem_base + rec.level},
                        {"name", op.name}, {"ts", rec.start * 1e6}, {"dur", dur * 1e6},
                        {"args", {{"bytes", op.bytes},
                                  {"achieved_GBps", dur > 0 ? op.bytes / dur / 1e9 : 0.0},
                                  {"bound", rec.bound}}}});
    }
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

}  // namespace orrery
