#include "sim/report/sections.h"

#include <algorithm>
#include <map>

#include "hw/kernel_cost.h"
#include "workloads/blocks/moe.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/builders/transformer.h"

namespace orrery {

nlohmann::json inputs_json(const LoadedRun& run) {
  return {{"system", run.request.system},
          {"workload", run.request.workload},
          {"overrides", run.request.overrides},
          {"system_resolved", run.system_yaml},
          {"workload_resolved", run.workload_yaml}};
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

nlohmann::json report_header(const LoadedRun& run, nlohmann::json system) {
  nlohmann::json rep;
  rep["orrery"] = {{"version", "0.1"}, {"report_schema", 1}};
  rep["inputs"] = inputs_json(run);
  rep["system"] = std::move(system);
  return rep;
}

namespace {

/// Tokens the whole system processes in one step:
///   train, prefill  batch x dp x grad_accum sequences of seq_len tokens
///   decode          batch x dp sequences x decode_tokens x tokens accepted per step (MTP)
///   block           batch x seq_len (one block, as the benchmark counts it)
double step_tokens(const WorkloadSpec& w) {
  const double seqs = double(w.batch) * w.parallel.dp * double(w.grad_accum);
  switch (w.phase) {
    case Phase::train:
    case Phase::prefill: return seqs * double(w.seq_len);
    case Phase::decode:
      return double(w.batch) * w.parallel.dp * double(w.decode_tokens) * accepted_tokens_per_step(w);
    case Phase::block: return double(w.batch) * double(w.seq_len);
    case Phase::microbench:
    case Phase::collective: break;
  }
  return 0;
}

/// Matrix FLOPs of every rank in the step: a simulated rank stands for tp x dp identical ones.
double system_matrix_flops(const StepOutcome& st) {
  const ParallelSpec& par = st.run->workload.parallel;
  double flops = 0;
  for (int p = 0; p < par.pp; ++p)
    for (size_t i = 0; i < st.ranks.size(); ++i)
      if (st.sim->ranks[i].stage == p)
        flops += window_matrix_flops(*st.sim->ranks[i].source, st.ranks[i].window) * par.tp * par.dp /
                 (par.all_ranks ? double(par.tp * par.dp) : 1.0);
  return flops;
}

}  // namespace

nlohmann::json summary_section(const StepOutcome& st) {
  const LoadedRun& run = *st.run;
  const WorkloadSpec& w = run.workload;
  const ParallelSpec& par = w.parallel;
  const double step = st.step();
  nlohmann::json s;
  s["phase"] = phase_name(w.phase);
  s["step_time_s"] = step;
  s["iterations_simulated"] = w.phase == Phase::microbench ? 1 : w.iterations;
  s["tokens_per_s"] = step > 0 ? step_tokens(w) / step : 0.0;
  s["ttft_s"] = w.phase == Phase::prefill ? nlohmann::json(step) : nlohmann::json(nullptr);
  // TPOT: time per output token of a sequence; a step yields accepted_tokens_per_step of them.
  s["tpot_s"] = w.phase == Phase::decode ? nlohmann::json(step / (double(w.decode_tokens) * accepted_tokens_per_step(w)))
                                         : nlohmann::json(nullptr);
  const double flops = system_matrix_flops(st);
  const Dtype mm = w.phase == Phase::microbench ? Dtype::bf16 : numerics_of(w).matmul;
  const auto& peaks = run.device.matrix_engine().peak;
  const double peak = peaks.count(mm) ? peaks.at(mm) : 0;
  s["model_flops"] = flops;
  s["mfu"] = step > 0 && peak > 0 ? flops / (step * peak * par.ranks()) : 0.0;
  double peak_mem = 0;
  for (const auto& pl : *st.plans) peak_mem = std::max(peak_mem, pl.peak);
  s["peak_memory_bytes"] = peak_mem;
  s["memory_capacity_bytes"] = run.device.backing_memory().capacity;
  if (run.devices > 1) {
    const RankActivity& crit = st.ranks[st.slowest];
    s["devices"] = par.ranks();
    s["global_batch"] = w.phase == Phase::block ? double(w.batch)
                                                : double(w.batch) * par.dp * double(w.grad_accum);
    s["comm_s"] = crit.comm_s;
    s["comm_exposed_s"] = crit.exposed_s;
    s["comm_overlapped_s"] = crit.comm_s - crit.exposed_s;
    s["slowest_rank"] = st.critical().rank;
  }
  return s;
}

nlohmann::json model_section(const ModelSpec& m) {
  nlohmann::json j = {{"name", m.name},
                      {"parameters", m.total_params()},
                      {"active_parameters", m.active_params()}};
  if (m.mtp_modules > 0) j["mtp_parameters"] = m.mtp_params();
  return j;
}

namespace {

/// The op as it would be with `ratio` of its rows (an expert GEMM's M, an activation's elements).
Op with_rows(const Op& op, double ratio) {
  if (op.kind == OpKind::Gemm) {
    Op g = make_gemm(op.name, op.gemm.m * ratio, op.gemm.n, op.gemm.k, op.dtype, op.gemm.batch);
    g.cold = op.cold;
    return g;
  }
  Op v = op;
  v.bytes *= ratio;
  v.flops *= ratio;
  return v;
}

}  // namespace

nlohmann::json moe_section(const StepOutcome& st) {
  const WorkloadSpec& w = st.run->workload;
  const RankResult& r = st.critical();
  const auto loads = transformer::moe_loads(w, r.stage);
  std::map<long, double> ratio;  // layer -> mean / max assignments per rank
  double max_sum = 0, mean_sum = 0;
  for (const auto& l : loads) {
    max_sum += l.max_assignments;
    mean_sum += l.mean_assignments;
    ratio[l.layer] = l.max_assignments > 0 ? l.mean_assignments / l.max_assignments : 1.0;
  }
  const double n = std::max<double>(1, double(loads.size()));
  // Expert time of the reported step on the simulated (busiest) rank, and what its expert
  // kernels would take alone with the mean rank's rows: the difference is what the imbalance
  // cost (memory-bound experts cost little more with more rows, compute-bound ones a lot).
  const StepWindow& win = st.ranks[st.slowest].window;
  double expert_s = 0, busiest_alone = 0, mean_alone = 0;
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = r.source->op(i);
    if (op.iteration != win.iteration || op.name.find(".moe.experts.") == std::string::npos) continue;
    expert_s += r.records[i].end - r.records[i].start;
    busiest_alone += isolated_kernel_time(st.run->device, op);
    mean_alone += isolated_kernel_time(st.run->device, with_rows(op, ratio.count(op.layer) ? ratio[op.layer] : 1.0));
  }
  const char* routing[] = {"balanced", "zipf", "histogram"};
  return {{"ep", w.parallel.ep},
          {"routing", routing[static_cast<int>(w.moe.kind)]},
          {"moe_layers", loads.size()},
          {"assignments_per_rank_max", max_sum / n},
          {"assignments_per_rank_mean", mean_sum / n},
          {"imbalance", mean_sum > 0 ? max_sum / mean_sum : 1.0},
          {"expert_time_s", expert_s},
          {"imbalance_cost_s", busiest_alone - mean_alone}};
}

nlohmann::json memory_section(const MemoryPlan& plan) {
  nlohmann::json j;
  for (const auto& item : plan.items)
    j.push_back({{"item", item.name}, {"bytes", item.bytes}, {"note", item.note}});
  return j;
}

nlohmann::json bottleneck_section(const RankResult& rank, const StepWindow& window) {
  nlohmann::json j;
  for (const auto& b : bottlenecks(rank, window))
    j.push_back({{"resource", b.resource},
                 {"busy_s", b.busy_s},
                 {"busy_fraction", b.busy_fraction},
                 {"critical_path_s", b.critical_s},
                 {"critical_path_share", b.critical_share}});
  return j;
}

nlohmann::json parallel_section(const StepOutcome& st) {
  const ParallelSpec& par = st.run->workload.parallel;
  nlohmann::json pj;
  pj["dp"] = par.dp;
  pj["tp"] = par.tp;
  pj["pp"] = par.pp;
  pj["sp"] = par.sp;
  pj["microbatches"] = par.microbatches;
  pj["zero"] = par.zero;
  pj["grad_accum"] = st.run->workload.grad_accum;
  pj["bucket_bytes"] = par.bucket_bytes;
  if (par.attention == AttentionLayout::sp_tp_sp)
    pj["attention"] = {{"layout", "sp_tp_sp"}, {"group", par.attention_group}};
  pj["simulated"] = par.all_ranks ? "all" : "representatives";
  pj["ranks_simulated"] = st.ranks.size();
  for (const auto& [kind, plane] : st.sim->plane_of_group)
    pj["group_planes"][comm_group_name(kind)] = st.run->planes[plane.index()].name;
  for (size_t i = 0; i < st.ranks.size(); ++i) {
    const RankActivity& a = st.ranks[i];
    const double len = a.window.length();
    pj["ranks"].push_back({{"rank", st.sim->ranks[i].rank},
                           {"stage", st.sim->ranks[i].stage},
                           {"represents", par.all_ranks ? 1 : par.tp * par.dp},
                           {"step_time_s", len},
                           {"compute_busy_s", a.compute_s},
                           {"idle_s", std::max(0.0, len - a.compute_s - a.exposed_s)},
                           {"pipeline_wait_s", a.recv_wait_s},
                           {"comm_s", a.comm_s},
                           {"comm_exposed_s", a.exposed_s},
                           {"comm_overlapped_s", a.comm_s - a.exposed_s}});
  }
  return pj;
}

NetworkSection network_section(const std::vector<Plane>& planes,
                               const std::vector<std::vector<double>>& link_bytes, double time,
                               size_t max_links) {
  struct LinkRow { size_t plane, link; double bytes, util; };
  std::vector<LinkRow> rows;
  NetworkSection out;
  for (size_t p = 0; p < planes.size(); ++p) {
    const Plane& pl = planes[p];
    double bytes = 0, cap = 0, busiest = 0;
    for (size_t l = 0; l < pl.links.size(); ++l) {
      const double b = link_bytes[p][l];
      const double u = time > 0 ? b / (pl.links[l].bandwidth * time) : 0.0;
      bytes += b;
      cap += pl.links[l].bandwidth;
      busiest = std::max(busiest, u);
      if (b > 0) rows.push_back({p, l, b, u});
    }
    out.planes.push_back({{"name", pl.name},
                          {"topology", pl.topology},
                          {"links", pl.links.size()},
                          {"bytes", bytes},
                          {"mean_link_utilization", time > 0 && cap > 0 ? bytes / (cap * time) : 0.0},
                          {"busiest_link_utilization", busiest}});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const LinkRow& a, const LinkRow& b) { return a.util > b.util; });
  for (size_t k = 0; k < std::min(rows.size(), max_links); ++k) {
    const Plane& pl = planes[rows[k].plane];
    const Link& l = pl.links[rows[k].link];
    out.links.push_back({{"plane", pl.name},
                         {"from", pl.nodes[static_cast<size_t>(l.from)].name},
                         {"to", pl.nodes[static_cast<size_t>(l.to)].name},
                         {"bytes", rows[k].bytes},
                         {"utilization", rows[k].util}});
  }
  return out;
}

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

}  // namespace

nlohmann::json op_records_section(const RankResult& r, const StepWindow& window) {
  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < r.records.size(); ++i)
    if (r.source->op(i).iteration == window.iteration)
      ops.push_back(op_json(r.source->op(i), r.records[i], r.resources));
  return ops;
}

nlohmann::json op_kinds_section(const RankResult& r, const StepWindow& window) {
  struct Kind {
    long count = 0, kernels = 0;
    double time_s = 0, flops = 0, bytes = 0;
    std::map<std::string, double> bound_s;  // time per binding resource
  };
  std::map<std::string, Kind> kinds;  // by category: sorted, so the report is deterministic
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = r.source->op(i);
    if (op.iteration != window.iteration) continue;
    const OpRecord& rec = r.records[i];
    Kind& k = kinds[op.category];
    ++k.count;
    k.kernels += op.kernels;
    k.time_s += rec.end - rec.start;
    k.flops += op.flops;
    k.bytes += op.kind == OpKind::Comm ? op.comm.bytes : op.bytes;
    k.bound_s[rec.bound] += rec.end - rec.start;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [category, k] : kinds)
    out.push_back({{"category", category}, {"ops", k.count}, {"kernels", k.kernels},
                   {"time_s", k.time_s}, {"flops", k.flops}, {"bytes", k.bytes},
                   {"bound_s", k.bound_s}});
  return out;
}

nlohmann::json sim_section(long events, double simulated_s, double wall_s) {
  return {{"events", events},
          {"simulated_s", simulated_s},
          {"wall_s", wall_s},
          {"events_per_s", wall_s > 0 ? double(events) / wall_s : 0.0}};
}

}  // namespace orrery
