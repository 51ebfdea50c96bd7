#include "sim/run/node_forward.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "sim/config/errors.h"

namespace orrery {

namespace {

/// P(none of `picks` distinct draws among `units` equally likely units lands on the node's
/// share·units of them) = Π_{i<picks} (units(1-share) - i) / (units - i).
double misses(double units, double picks, double share) {
  double p = 1;
  for (double i = 0; i < picks; ++i) p *= std::max(0.0, (units * (1 - share) - i) / (units - i));
  return p;
}

}  // namespace

double node_touch_probability(double share, int nodes, const CommOp::NodeRouting& r) {
  share = std::clamp(share, 0.0, 1.0);
  double q = 1 - misses(r.experts, r.top_k, share);
  const long G = static_cast<long>(r.groups), M = static_cast<long>(r.topk_groups);
  if (M < G && nodes > 0 && G % nodes == 0) q = std::min(q, 1 - misses(r.groups, r.topk_groups, share));
  return q;
}

NodeForwardTraffic node_forward_traffic(const CommOp& op, const std::vector<int>& node) {
  const size_t n = node.size();
  if (!op.shares || op.shares->size() != n || !op.node_forward)
    throw std::logic_error("node-forwarded all_to_all_v without shares or routing");
  const auto& share = *op.shares;
  // Nodes in order of first appearance; members of each in group order (their local index).
  std::map<int, std::vector<size_t>> members;
  std::vector<int> order;
  for (size_t i = 0; i < n; ++i) {
    if (!members.count(node[i])) order.push_back(node[i]);
    members[node[i]].push_back(i);
  }
  const size_t per_node = members[order.front()].size();
  for (int v : order)
    if (members[v].size() != per_node)
      throw ConfigError(fmt::format(
          "moe.a2a: hierarchical needs the same number of expert-group members on every node "
          "(node {} holds {}, node {} holds {}); use moe.a2a: collective or an expert group of "
          "whole nodes", order.front(), per_node, v, members[v].size()));
  std::vector<size_t> local(n);
  for (int v : order)
    for (size_t l = 0; l < per_node; ++l) local[members[v][l]] = l;
  std::map<int, double> node_share;
  for (size_t i = 0; i < n; ++i) node_share[node[i]] += share[i];
  const auto& r = *op.node_forward;
  const double b = op.bytes, B = op.bytes / r.assignments;
  NodeForwardTraffic t{std::vector<std::vector<double>>(n, std::vector<double>(n, 0.0)),
                       std::vector<std::vector<double>>(n, std::vector<double>(n, 0.0))};
  std::map<int, double> touch;  // chance a token reaches node v: depends on v only
  for (int v : order) touch[v] = node_touch_probability(node_share[v], int(order.size()), r);
  for (size_t i = 0; i < n; ++i)
    for (int v : order) {
      // The member that receives i's tokens in node v: i itself in its own node.
      const size_t f = v == node[i] ? i : members[v][local[i]];
      if (f != i) t.scale_out[i][f] += B * touch[v];
      for (size_t m : members[v])
        if (m != f) t.scale_up[f][m] += b * share[m];
    }
  if (op.reverse)
    for (auto* m : {&t.scale_out, &t.scale_up})
      for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) std::swap((*m)[i][j], (*m)[j][i]);
  return t;
}

}  // namespace orrery
