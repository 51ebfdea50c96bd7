#include "sim/report/trace.h"

#include <fmt/format.h>

#include <algorithm>

namespace orrery {

namespace {

using Events = nlohmann::json;  // an array of trace events

void name_process(Events& events, int pid, const std::string& name) {
  events.push_back({{"ph", "M"}, {"pid", pid}, {"name", "process_name"}, {"args", {{"name", name}}}});
}

/// Track ids: 1 host, 2.. engines, then memory levels, then the network (if used).
void rank_events(Events& events, const RankResult& r, int pid, const std::string& process) {
  const OpSource& g = *r.source;
  std::vector<std::string> tracks = {r.resources.host};
  for (const auto& e : r.resources.engines) tracks.push_back("engine " + e);
  for (const auto& m : r.resources.memory) tracks.push_back("memory " + m);
  // Network ops run on the "network" / "pipeline wait" resources of a parallel run; a graph
  // with network ops but no such resources gets one "network" track.
  const auto& engines = r.resources.engines;
  const bool has_network = std::find(engines.begin(), engines.end(), "network") != engines.end();
  bool network = false;
  for (size_t i = 0; i < r.records.size(); ++i) network = network || g.op(i).kind == OpKind::Comm;
  if (network && !has_network) tracks.push_back("network");
  const int network_tid = static_cast<int>(tracks.size());
  name_process(events, pid, process);
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
    const Op& op = g.op(i);
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
                      {"tid", op.kind == OpKind::Comm && !has_network ? network_tid : engine_tid(rec.engine)},
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
}

std::string link_name(const Plane& plane, int l) {
  const Link& link = plane.links[static_cast<size_t>(l)];
  return fmt::format("link {}->{}{}", plane.nodes[static_cast<size_t>(link.from)].name,
                     plane.nodes[static_cast<size_t>(link.to)].name,
                     plane.rail_twin.empty() ? "" : " (rail 0; every rail alike)");
}

/// The plane's counters: "in flight" (GB/s carried by all its flows together) and, for the
/// kMaxLinkTracks links that carried the most bytes, "link a->b" (util %: rate / bandwidth,
/// as the report's link utilisation). A counter event only where the value changes, i.e. when
/// the max-min solver re-allocated the rates: events grow with flows, not with bytes or time.
void rate_events(Events& events, int pid, const Plane& plane, const std::vector<RateChange>& log) {
  std::vector<RateSeries> series = rate_series(log);
  const RateSeries& total = series.front();
  for (const auto& [t, v] : total.points)
    events.push_back({{"ph", "C"}, {"pid", pid}, {"name", "in flight"}, {"ts", t * 1e6}, {"args", {{"GB/s", v / 1e9}}}});
  std::vector<const RateSeries*> links;
  for (size_t k = 1; k < series.size(); ++k) links.push_back(&series[k]);
  std::stable_sort(links.begin(), links.end(), [](const RateSeries* a, const RateSeries* b) { return a->bytes > b->bytes; });
  const size_t shown = std::min(links.size(), kMaxLinkTracks);
  for (size_t k = 0; k < shown; ++k) {
    const std::string name = link_name(plane, links[k]->link);
    const double bw = plane.links[static_cast<size_t>(links[k]->link)].bandwidth;
    for (const auto& [t, v] : links[k]->points)
      events.push_back({{"ph", "C"}, {"pid", pid}, {"name", name}, {"ts", t * 1e6}, {"args", {{"util %", 100 * v / bw}}}});
  }
  if (links.empty()) return;
  // Which links have no track: counted, their bytes summed, the first few named.
  double dropped_bytes = 0;
  nlohmann::json dropped = nlohmann::json::array();
  for (size_t k = shown; k < links.size(); ++k) {
    dropped_bytes += links[k]->bytes;
    if (dropped.size() < 8) dropped.push_back(link_name(plane, links[k]->link));
  }
  events.push_back({{"ph", "i"}, {"s", "p"}, {"pid", pid}, {"tid", 0}, {"ts", 0.0},
                    {"name", fmt::format("link tracks: {} of {} busy links", shown, links.size())},
                    {"args", {{"busy_links", links.size()}, {"shown", shown}, {"dropped", links.size() - shown},
                              {"dropped_bytes", dropped_bytes}, {"dropped_first", dropped},
                              {"rule", fmt::format("the {} links that carried the most bytes get a track; "
                                                   "'in flight' counts every flow", kMaxLinkTracks)}}}});
}

/// One process per plane, a track per traffic class: when its transfers ran, and the plane's
/// rate counters (if logged).
void plane_events(Events& events, const StepOutcome& st) {
  const auto& planes = st.run->planes;
  for (size_t p = 0; p < planes.size(); ++p) {
    const int pid = 1000 + static_cast<int>(p);
    name_process(events, pid, "plane " + planes[p].name);
    if (p < st.sim->rate_logs.size()) rate_events(events, pid, planes[p], st.sim->rate_logs[p]);
    for (const auto& [kind, plane] : st.sim->plane_of_group) {
      if (plane.index() != p) continue;
      const int tid = static_cast<int>(kind) + 1;
      events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", "thread_name"},
                        {"args", {{"name", std::string(traffic_class(kind)) + " (" + comm_group_name(kind) + ")"}}}});
      for (const auto& rr : st.sim->ranks) {
        for (size_t k = 0; k < rr.records.size(); ++k) {
          const Op& op = rr.source->op(k);
          if (op.kind != OpKind::Comm || op.comm.group != kind || op.comm.op == CommKind::Recv) continue;
          const auto& rec = rr.records[k];
          events.push_back({{"ph", "X"}, {"pid", pid}, {"tid", tid},
                            {"name", fmt::format("{} r{}", op.name, rr.rank)},
                            {"ts", rec.start * 1e6}, {"dur", (rec.end - rec.start) * 1e6},
                            {"args", {{"op", comm_kind_name(op.comm.op)}, {"bytes", op.comm.bytes}}}});
        }
      }
    }
  }
}

}  // namespace

nlohmann::json step_trace(const StepOutcome& st) {
  const LoadedRun& run = *st.run;
  const ParallelSpec& par = run.workload.parallel;
  Events events = Events::array();
  for (size_t i = 0; i < st.sim->ranks.size(); ++i) {
    const RankResult& r = st.sim->ranks[i];
    const std::string process =
        run.devices == 1 ? run.device.name
                         : fmt::format("rank {} (stage {}{})", r.rank, r.stage,
                                       par.all_ranks ? "" : fmt::format(", stands for {}", par.tp * par.dp));
    rank_events(events, r, static_cast<int>(i) + 1, process);
  }
  if (run.devices > 1) plane_events(events, st);
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

nlohmann::json network_trace(const Plane& plane, const std::string& track,
                             const std::vector<TraceSpan>& spans, const std::vector<RateChange>& rates) {
  Events events = Events::array();
  name_process(events, 1, plane.name);
  rate_events(events, 1, plane, rates);
  if (!track.empty())
    events.push_back({{"ph", "M"}, {"pid", 1}, {"tid", 1}, {"name", "thread_name"}, {"args", {{"name", track}}}});
  for (const auto& s : spans)
    events.push_back({{"ph", "X"}, {"pid", 1}, {"tid", 1}, {"name", s.name},
                      {"ts", s.start * 1e6}, {"dur", (s.end - s.start) * 1e6}});
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
}

}  // namespace orrery
