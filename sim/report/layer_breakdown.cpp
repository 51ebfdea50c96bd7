#include "sim/report/layer_breakdown.h"

#include "sim/report/analysis.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace orrery {

namespace {

using Intervals = std::vector<std::pair<double, double>>;

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

/// The part of a MoE layer an op belongs to.
const char* part_of(const std::string& name) {
  if (contains(name, ".moe.dispatch") || contains(name, ".moe.permute") || contains(name, ".moe.quant"))
    return "dispatch";
  if (contains(name, ".moe.combine")) return "combine";
  if (contains(name, ".moe.experts.") || contains(name, ".moe.shared.")) return "experts";
  if (contains(name, ".moe.gate") || contains(name, ".moe.topk")) return "gate";
  if (contains(name, ".attn.") || contains(name, ".ln_1") || contains(name, ".add_1")) return "attention";
  return "other";
}

}  // namespace

nlohmann::json layer_breakdown(const RankResult& r, const StepWindow& window, long moe_layers) {
  std::map<std::string, double> parts;
  std::map<long, bool> moe_layer;  // layers with an expert op
  Intervals comm, kernels;
  std::map<std::string, Intervals> partition;  // "[attention]" -> its kernels
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = r.source->op(i);
    if (op.iteration != window.iteration) continue;
    const OpRecord& rec = r.records[i];
    if (op.kind == OpKind::Comm) {
      if (op.comm.group == CommGroup::Expert) comm.push_back({rec.start, rec.end});
    } else if (op.kind != OpKind::Host) {
      kernels.push_back({rec.start, rec.end});
      if (op.partition > 0) partition[r.resources.engines[2 * static_cast<size_t>(op.partition)]].push_back({rec.start, rec.end});
    }
    if (op.layer >= 0 && contains(op.name, ".moe.")) moe_layer[op.layer] = true;
  }
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Op& op = r.source->op(i);
    if (op.iteration != window.iteration || op.layer < 0 || !moe_layer.count(op.layer)) continue;
    parts[part_of(op.name)] += r.records[i].end - r.records[i].start;
  }
  const double n = double(std::max<long>(1, moe_layers));
  nlohmann::json per_layer = nlohmann::json::object();
  for (const char* p : {"attention", "gate", "dispatch", "experts", "combine", "other"})
    per_layer[std::string(p) + "_s"] = parts[p] / n;
  const Overlap c = interval_overlap(std::move(comm), std::move(kernels));
  double both = 0;
  if (partition.size() == 2) {
    const Overlap p = interval_overlap(partition.begin()->second, std::next(partition.begin())->second);
    both = p.a - p.exposed;
  }
  return {{"per_moe_layer", per_layer},
          {"expert_comm_s", c.a},
          {"exposed_comm_s", c.exposed},
          {"overlap_s", both}};
}

}  // namespace orrery
