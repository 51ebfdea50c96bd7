#include "sim/parallel/parallel_run.h"

#include <fmt/format.h>
#include <systemc>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "hw/host/host_module.h"
#include "hw/kernel_device.h"
#include "sim/parallel/comm_hub.h"
#include "sim/report/analysis.h"
#include "sim/report/report.h"
#include "sim/units/quantity.h"
#include "workloads/builders/transformer.h"

namespace orrery {

namespace {

using Intervals = std::vector<std::pair<double, double>>;

Intervals merged(Intervals v) {
  std::sort(v.begin(), v.end());
  Intervals out;
  for (const auto& [s, e] : v) {
    if (e <= s) continue;
    if (!out.empty() && s <= out.back().second) out.back().second = std::max(out.back().second, e);
    else out.push_back({s, e});
  }
  return out;
}

double length(const Intervals& v) {
  double t = 0;
  for (const auto& [s, e] : v) t += e - s;
  return t;
}

/// One simulated rank's outcome.
struct RankRun {
  int rank = 0, stage = 0;
  SimResult result;
  StepWindow window;
  double compute_s = 0;   // union of kernel intervals in the window
  double comm_s = 0;      // union of network-op intervals in the window
  double exposed_s = 0;   // network time with no kernel running
  double recv_wait_s = 0; // pipeline receives: waiting for the previous stage (the bubble)
};

void analyse(RankRun& r, const OpGraph& g) {
  r.window = last_step(g, r.result);
  Intervals kernels, comm, recv;
  for (size_t i = 0; i < r.result.records.size(); ++i) {
    const OpRecord& rec = r.result.records[i];
    if (g[i].iteration != r.window.iteration) continue;
    if (g[i].kind == OpKind::Comm && g[i].comm.op == "recv") recv.push_back({rec.start, rec.end});
    else if (g[i].kind == OpKind::Comm) comm.push_back({rec.start, rec.end});
    else if (g[i].kind != OpKind::Host) kernels.push_back({rec.start, rec.end});
  }
  const Overlap o = interval_overlap(comm, kernels);
  r.compute_s = length(merged(kernels));
  r.comm_s = o.a;
  r.exposed_s = o.exposed;
  r.recv_wait_s = length(merged(recv));
}

}  // namespace

Overlap interval_overlap(Intervals a, Intervals b) {
  const Intervals ua = merged(std::move(a)), ub = merged(std::move(b));
  Overlap o;
  o.a = length(ua);
  double covered = 0;
  size_t j = 0;
  for (const auto& [s, e] : ua) {
    while (j < ub.size() && ub[j].second <= s) ++j;
    for (size_t k = j; k < ub.size() && ub[k].first < e; ++k)
      covered += std::min(e, ub[k].second) - std::max(s, ub[k].first);
  }
  o.exposed = o.a - covered;
  return o;
}

RunOutput execute_parallel(const LoadedRun& run, bool want_trace) {
  const WorkloadSpec& w = run.workload;
  const ParallelSpec& par = w.parallel;
  std::vector<MemoryPlan> plans;
  for (int p = 0; p < par.pp; ++p) {
    plans.push_back(plan_memory(w, p));
    check_fits(plans.back(), run.device.backing_memory().capacity,
               par.pp > 1 ? fmt::format("{} (pipeline stage {})", run.device.name, p) : run.device.name);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> ranks;
  for (int r = 0; r < par.ranks(); ++r) {
    const RankCoord c = coord_of(par, r);
    if (par.all_ranks || (c.t == 0 && c.d == 0)) ranks.push_back(r);
  }
  std::vector<OpGraph> graphs;
  for (int p = 0; p < par.pp; ++p) graphs.push_back(build_graph(w, p));

  std::vector<RankRun> out(ranks.size());
  std::vector<std::unique_ptr<HostModule>> hosts;
  std::vector<std::unique_ptr<KernelDeviceModule>> devices;
  CommHub hub("comm", par, run.planes, ranks);
  for (size_t i = 0; i < ranks.size(); ++i) {
    RankRun& rr = out[i];
    rr.rank = ranks[i];
    rr.stage = coord_of(par, ranks[i]).p;
    const OpGraph& g = graphs[static_cast<size_t>(rr.stage)];
    rr.result.records.resize(boost::num_vertices(g));
    hosts.push_back(std::make_unique<HostModule>(fmt::format("host{}", rr.rank).c_str(), run.device.host,
                                                 w.framework, g, rr.result.records));
    devices.push_back(std::make_unique<KernelDeviceModule>(fmt::format("device{}", rr.rank).c_str(),
                                                           run.device, g, rr.result.records));
    HostModule& host = *hosts.back();
    KernelDeviceModule& dev = *devices.back();
    host.on_launched = [&dev](OpId id) { dev.launched(id); };
    host.kernels_of = [&dev](OpId id) { return dev.kernels(id); };
    dev.on_sync_done = [&host](OpId id) { host.release(id); };
    dev.on_op_done = [&host] { host.device_op_done(); };
    hub.attach(static_cast<int>(i), dev, g);
  }
  sc_core::sc_start();
  long events = hub.events();
  for (size_t i = 0; i < out.size(); ++i) {
    RankRun& rr = out[i];
    const OpGraph& g = graphs[static_cast<size_t>(rr.stage)];
    for (size_t k = 0; k < rr.result.records.size(); ++k) {
      if (!rr.result.records[k].done)
        throw std::logic_error(fmt::format("simulation ended with op '{}' of rank {} not done "
                                           "(a receive without its send?)", g[k].name, rr.rank));
      rr.result.makespan = std::max(rr.result.makespan, rr.result.records[k].end);
    }
    rr.result.resources = devices[i]->resources();
    rr.result.resources.engines.push_back("network");
    if (par.pp > 1) rr.result.resources.engines.push_back("pipeline wait");
    rr.result.events = hosts[i]->events() + devices[i]->events();
    events += rr.result.events;
    analyse(rr, g);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The step: from the first rank starting its last iteration to the last rank finishing it.
  double start = out.front().window.start, end = 0;
  size_t slowest = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    start = std::min(start, out[i].window.start);
    if (out[i].window.end > end) end = out[i].window.end, slowest = i;
  }
  const double step = end - start;
  const RankRun& crit = out[slowest];
  const OpGraph& crit_graph = graphs[static_cast<size_t>(crit.stage)];
  RunOutput res;
  nlohmann::json& rep = res.report;
  rep = build_report(run, crit_graph, crit.result, plans[static_cast<size_t>(crit.stage)]);
  // Whole-system figures replace the single rank's.
  nlohmann::json& s = rep["summary"];
  const double seqs = double(w.batch) * par.dp * double(w.grad_accum);
  double tokens = w.phase == Phase::decode ? double(w.batch) * par.dp * double(w.decode_tokens)
                                           : seqs * double(w.seq_len);
  if (w.phase == Phase::block) tokens = double(w.batch) * double(w.seq_len);
  double flops = 0;  // every rank's matrix FLOPs in the step (a stage's ranks are identical)
  for (int p = 0; p < par.pp; ++p) {
    const auto& g = graphs[static_cast<size_t>(p)];
    for (const auto& rr : out)
      if (rr.stage == p) {
        flops += window_matrix_flops(g, rr.window) * par.tp * par.dp /
                 (par.all_ranks ? double(par.tp * par.dp) : 1.0);
      }
  }
  const auto& peaks = run.device.matrix_engine().peak;
  const Dtype mm = numerics_of(w).matmul;
  const double peak = peaks.count(mm) ? peaks.at(mm) : 0;
  s["step_time_s"] = step;
  s["tokens_per_s"] = step > 0 ? tokens / step : 0.0;
  if (w.phase == Phase::prefill) s["ttft_s"] = step;
  if (w.phase == Phase::decode) s["tpot_s"] = step / double(w.decode_tokens);
  s["model_flops"] = flops;
  s["mfu"] = step > 0 && peak > 0 ? flops / (step * peak * par.ranks()) : 0.0;
  double peak_mem = 0;
  for (const auto& pl : plans) peak_mem = std::max(peak_mem, pl.peak);
  s["peak_memory_bytes"] = peak_mem;
  s["devices"] = par.ranks();
  s["global_batch"] = w.phase == Phase::block ? double(w.batch) : seqs;
  s["comm_s"] = crit.comm_s;
  s["comm_exposed_s"] = crit.exposed_s;
  s["comm_overlapped_s"] = crit.comm_s - crit.exposed_s;
  s["slowest_rank"] = crit.rank;

  nlohmann::json pj;
  pj["dp"] = par.dp;
  pj["tp"] = par.tp;
  pj["pp"] = par.pp;
  pj["sp"] = par.sp;
  pj["microbatches"] = par.microbatches;
  pj["zero"] = par.zero;
  pj["grad_accum"] = w.grad_accum;
  pj["bucket_bytes"] = par.bucket_bytes;
  pj["simulated"] = par.all_ranks ? "all" : "representatives";
  pj["ranks_simulated"] = ranks.size();
  for (const auto& [kind, plane] : hub.plane_of_group())
    pj["group_planes"][comm_group_name(kind)] = run.planes[static_cast<size_t>(plane)].name;
  for (const auto& rr : out) {
    const double len = rr.window.length();
    pj["ranks"].push_back({{"rank", rr.rank},
                           {"stage", rr.stage},
                           {"represents", par.all_ranks ? 1 : par.tp * par.dp},
                           {"step_time_s", len},
                           {"compute_busy_s", rr.compute_s},
                           {"idle_s", std::max(0.0, len - rr.compute_s - rr.exposed_s)},
                           {"pipeline_wait_s", rr.recv_wait_s},
                           {"comm_s", rr.comm_s},
                           {"comm_exposed_s", rr.exposed_s},
                           {"comm_overlapped_s", rr.comm_s - rr.exposed_s}});
  }
  rep["parallel"] = pj;

  // Per plane and per link: bytes carried in the whole run / (capacity x simulated time).
  const auto link_bytes = hub.link_bytes();
  double sim_end = 0;
  for (const auto& rr : out) sim_end = std::max(sim_end, rr.result.makespan);
  struct LinkRow { size_t plane, link; double bytes, util; };
  std::vector<LinkRow> rows;
  rep["planes"] = nlohmann::json::array();
  for (size_t p = 0; p < run.planes.size(); ++p) {
    const Plane& pl = run.planes[p];
    double bytes = 0, cap = 0, busiest = 0;
    for (size_t l = 0; l < pl.links.size(); ++l) {
      const double b = link_bytes[p][l];
      const double u = sim_end > 0 ? b / (pl.links[l].bandwidth * sim_end) : 0.0;
      bytes += b;
      cap += pl.links[l].bandwidth;
      busiest = std::max(busiest, u);
      if (b > 0) rows.push_back({p, l, b, u});
    }
    rep["planes"].push_back({{"name", pl.name},
                             {"topology", pl.topology},
                             {"links", pl.links.size()},
                             {"bytes", bytes},
                             {"mean_link_utilization", sim_end > 0 && cap > 0 ? bytes / (cap * sim_end) : 0.0},
                             {"busiest_link_utilization", busiest}});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const LinkRow& a, const LinkRow& b) { return a.util > b.util; });
  rep["links"] = nlohmann::json::array();
  for (size_t k = 0; k < std::min<size_t>(rows.size(), 32); ++k) {
    const Plane& pl = run.planes[rows[k].plane];
    const Link& l = pl.links[rows[k].link];
    rep["links"].push_back({{"plane", pl.name},
                            {"from", pl.nodes[static_cast<size_t>(l.from)].name},
                            {"to", pl.nodes[static_cast<size_t>(l.to)].name},
                            {"bytes", rows[k].bytes},
                            {"utilization", rows[k].util}});
  }
  long ops = 0;
  for (const auto& rr : out) ops += static_cast<long>(rr.result.records.size());
  rep["sim"] = {{"events", events}, {"ops", ops}, {"flows", hub.flows()},
                {"ranks_simulated", ranks.size()}, {"simulated_s", sim_end}, {"wall_s", wall},
                {"events_per_s", wall > 0 ? double(events) / wall : 0.0}};

  res.summary_text = summary_text(run, rep);
  res.summary_text += fmt::format(
      "  parallel         dp {} x tp {} x pp {}{}{} = {} devices; global batch {}\n"
      "  network          {} per step on the slowest rank ({}), {} exposed\n",
      par.dp, par.tp, par.pp, par.sp ? " (sp)" : "", par.zero ? ", ZeRO-1" : "", par.ranks(),
      s["global_batch"].get<double>(), format_quantity(crit.comm_s, Dim::Time), crit.rank,
      format_quantity(crit.exposed_s, Dim::Time));
  for (const auto& pl : rep["planes"])
    if (pl["bytes"].get<double>() > 0)
      res.summary_text += fmt::format("    plane {:<12} {} carried, busiest link {:.0f}% busy\n",
                                      pl["name"].get<std::string>(),
                                      format_quantity(pl["bytes"].get<double>(), Dim::Bytes),
                                      100 * pl["busiest_link_utilization"].get<double>());

  if (want_trace) {
    nlohmann::json events_json = nlohmann::json::array();
    for (size_t i = 0; i < out.size(); ++i) {
      const auto t = build_trace(run, graphs[static_cast<size_t>(out[i].stage)], out[i].result,
                                 static_cast<int>(i) + 1,
                                 fmt::format("rank {} (stage {}{})", out[i].rank, out[i].stage,
                                             par.all_ranks ? "" : fmt::format(", stands for {}", par.tp * par.dp)));
      for (const auto& e : t["traceEvents"]) events_json.push_back(e);
    }
    // One process per plane, a track per traffic class: when its transfers ran.
    for (size_t p = 0; p < run.planes.size(); ++p) {
      const int pid = 1000 + static_cast<int>(p);
      events_json.push_back({{"ph", "M"}, {"pid", pid}, {"name", "process_name"},
                             {"args", {{"name", "plane " + run.planes[p].name}}}});
      for (const auto& [kind, plane] : hub.plane_of_group()) {
        if (plane != static_cast<int>(p)) continue;
        const int tid = static_cast<int>(kind) + 1;
        events_json.push_back({{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", "thread_name"},
                               {"args", {{"name", std::string(traffic_class(kind)) + " (" + comm_group_name(kind) + ")"}}}});
        for (const auto& rr : out) {
          const auto& g = graphs[static_cast<size_t>(rr.stage)];
          for (size_t k = 0; k < rr.result.records.size(); ++k) {
            if (g[k].kind != OpKind::Comm || g[k].comm.group != kind || g[k].comm.op == "recv") continue;
            const auto& rec = rr.result.records[k];
            events_json.push_back({{"ph", "X"}, {"pid", pid}, {"tid", tid},
                                   {"name", fmt::format("{} r{}", g[k].name, rr.rank)},
                                   {"ts", rec.start * 1e6}, {"dur", (rec.end - rec.start) * 1e6},
                                   {"args", {{"op", g[k].comm.op}, {"bytes", g[k].comm.bytes}}}});
          }
        }
      }
    }
    res.trace = {{"traceEvents", events_json}, {"displayTimeUnit", "ns"}};
  }
  return res;
}

}  // namespace orrery
