#include "sim/report/analysis.h"

#include <algorithm>
#include <limits>

namespace orrery {

StepWindow last_step(const RankResult& r) {
  const OpSource& g = *r.source;
  StepWindow w;
  int last_it = 0;
  for (size_t i = 0; i < r.records.size(); ++i) last_it = std::max(last_it, g.op(i).iteration);
  w.iteration = last_it;
  w.start = -1;
  for (size_t i = 0; i < r.records.size(); ++i) {
    if (g.op(i).iteration != last_it) continue;
    w.end = std::max(w.end, r.records[i].end);
    if (w.start < 0 || r.records[i].issue_start < w.start) w.start = r.records[i].issue_start;
  }
  w.start = std::max(w.start, 0.0);
  return w;
}

namespace {

bool in_window(const OpRecord& rec, const StepWindow& w) {
  return rec.end > w.start && rec.start < w.end + 1e-15;
}

double clipped(double a, double b, const StepWindow& w) {
  return std::max(0.0, std::min(b, w.end) - std::max(a, w.start));
}

const char* wait_resource(WaitReason why) {
  switch (why) {
    case WaitReason::Host: return "host";
    case WaitReason::Engine: return "engine contention";
    default: return "dependency wait";
  }
}

}  // namespace

std::vector<Bottleneck> bottlenecks(const RankResult& r, const StepWindow& w) {
  const OpSource& g = *r.source;
  std::map<std::string, Bottleneck> table;
  auto entry = [&](const std::string& name) -> Bottleneck& {
    Bottleneck& b = table[name];
    b.resource = name;
    return b;
  };
  entry(r.resources.host);
  for (const auto& e : r.resources.engines) entry(e);
  // The host and the engines are busy over the union of their ops' intervals: an engine runs
  // one kernel at a time, but the network carries several transfers at once (two
  // micro-batches' all-to-alls), which must not count twice.
  std::map<std::string, std::vector<std::pair<double, double>>> spans;
  auto span = [&](const std::string& name, double a, double b) {
    entry(name);
    a = std::max(a, w.start), b = std::min(b, w.end);
    if (b > a) spans[name].emplace_back(a, b);
  };
  for (size_t i = 0; i < r.records.size(); ++i) {
    const OpRecord& rec = r.records[i];
    span(r.resources.host, rec.issue_start, rec.issue_end);
    if (g.op(i).kind == OpKind::Host || !in_window(rec, w)) continue;
    span(rec.engine, rec.start, rec.end);
    if (rec.level >= 0 && rec.memory_s > 0) {
      // The level is busy for the time its bytes need at sustained bandwidth, within the op.
      const double busy = std::min(rec.memory_s, rec.end - rec.start);
      entry(r.resources.memory[static_cast<size_t>(rec.level)]).busy_s +=
          clipped(rec.start, rec.start + busy, w);
    }
  }
  for (auto& [name, list] : spans) {
    std::sort(list.begin(), list.end());
    double covered = 0, end = -std::numeric_limits<double>::infinity();
    for (const auto& [a, b] : list) {
      if (b <= end) continue;
      covered += b - std::max(a, end);
      end = b;
    }
    table[name].busy_s += covered;
  }
  // Critical path: from the op that finished last, walk back through whichever predecessor
  // (data dependency or stream order) finished last; gaps go to what the op waited for.
  long cur = -1;
  for (size_t i = 0; i < r.records.size(); ++i)
    if (g.op(i).iteration == w.iteration && g.op(i).kind != OpKind::Host &&
        (cur < 0 || r.records[i].end > r.records[cur].end))
      cur = static_cast<long>(i);
  while (cur >= 0) {
    const OpRecord& rec = r.records[static_cast<size_t>(cur)];
    if (rec.end <= w.start) break;
    entry(g.op(static_cast<size_t>(cur)).kind == OpKind::Host ? r.resources.host : rec.bound)
        .critical_s += clipped(rec.start, rec.end, w);
    // The op whose end released this one (stream predecessor or dependency); when the op
    // waited for its launch instead, the gap before it is host time.
    const long pred = rec.after;
    const double pred_end = pred >= 0 ? std::max(r.records[pred].end, w.start) : w.start;
    const double gap = clipped(pred_end, rec.start, w);
    if (gap > 0) entry(wait_resource(rec.waited)).critical_s += gap;
    cur = pred;
  }
  std::vector<Bottleneck> out;
  const double len = std::max(w.length(), 1e-30);
  double critical_total = 0;
  for (auto& [name, b] : table) critical_total += b.critical_s;
  for (auto& [name, b] : table) {
    b.busy_fraction = b.busy_s / len;
    b.critical_share = critical_total > 0 ? b.critical_s / critical_total : 0;
    out.push_back(b);
  }
  std::sort(out.begin(), out.end(), [](const Bottleneck& a, const Bottleneck& b) {
    if (a.critical_share != b.critical_share) return a.critical_share > b.critical_share;
    return a.resource < b.resource;
  });
  return out;
}

double window_matrix_flops(const OpSource& g, const StepWindow& w) {
  double flops = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (g.op(i).iteration == w.iteration && (g.op(i).kind == OpKind::Gemm || g.op(i).kind == OpKind::Attention))
      flops += g.op(i).flops;
  return flops;
}

}  // namespace orrery

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

RankActivity rank_activity(const RankResult& r) {
  RankActivity a;
  a.window = last_step(r);
  Intervals kernels, comm, recv;
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = r.source->op(i);
    const OpRecord& rec = r.records[i];
    if (op.iteration != a.window.iteration) continue;
    if (op.kind == OpKind::Comm && op.comm.op == CommKind::Recv) recv.push_back({rec.start, rec.end});
    else if (op.kind == OpKind::Comm) comm.push_back({rec.start, rec.end});
    else if (op.kind != OpKind::Host) kernels.push_back({rec.start, rec.end});
  }
  const Overlap o = interval_overlap(comm, kernels);
  a.compute_s = length(merged(kernels));
  a.comm_s = o.a;
  a.exposed_s = o.exposed;
  a.recv_wait_s = length(merged(recv));
  return a;
}

}  // namespace orrery
