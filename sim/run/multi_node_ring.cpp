#include "sim/run/multi_node_ring.h"

#include <algorithm>
#include <limits>
#include <map>

#include "hw/network/protocol.h"
#include "sim/run/comm_hub.h"

namespace orrery {

namespace {

RingSide side(const Plane& p, const std::vector<FlowSpec>& flows) {
  RingSide s;
  double bottleneck = std::numeric_limits<double>::infinity();
  double port = std::numeric_limits<double>::infinity();
  for (const auto& f : flows) {
    const Path path = p.route(EndpointId{f.src}, EndpointId{f.dst});
    s.latency = std::max(s.latency, p.path_latency(path));
    bottleneck = std::min(bottleneck, p.bottleneck(path));
    port = std::min(port, p.out_capacity(EndpointId{f.src}));
  }
  const ChannelPlan chan = p.channel_plan(bottleneck);
  s.channels = chan.channels;
  s.channel_rate = chan.rate();
  s.rate = chan.rate() > 0 ? std::min(port, chan.rate()) : port;
  return s;
}

const Protocol* named(const std::vector<Protocol>& table, const std::string& name) {
  for (const auto& p : table)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace

std::optional<PlaneId> scale_up_plane(const std::vector<Plane>& planes, PlaneId out_id, const std::string& traffic,
                                      const std::vector<int>& group) {
  const Plane& out = planes[out_id.index()];
  std::map<int, std::vector<int>> by_node;
  for (int d : group) by_node[out.shape.node_of(d)].push_back(d);
  bool shared = false;
  for (const auto& [node, members] : by_node) shared = shared || members.size() > 1;
  if (by_node.size() < 2 || !shared) return std::nullopt;
  // Another plane carrying this traffic (or everything) that joins the members of every node;
  // the fastest if several do ...
  int best = -1;
  double best_bw = 0;
  for (size_t i = 0; i < planes.size(); ++i) {
    const Plane& p = planes[i];
    if (PlaneId{i} == out_id) continue;
    if (!p.traffic.empty() && std::find(p.traffic.begin(), p.traffic.end(), traffic) == p.traffic.end()) continue;
    // A fabric of the node: it does not reach across nodes (else it would carry the group).
    const int a = by_node.begin()->second.front(), b = std::next(by_node.begin())->second.front();
    if (p.connects(EndpointId{a}, EndpointId{b})) continue;
    bool all = true;
    for (const auto& [node, members] : by_node) all = all && joins(p, members);
    if (!all) continue;
    double bw = 0;
    for (const auto& l : p.links) bw = std::max(bw, l.bandwidth * p.efficiency);
    if (best < 0 || bw > best_bw) best = static_cast<int>(i), best_bw = bw;
  }
  // ... and faster than `out` (a slower plane inside nodes is not where the library goes).
  double out_bw = 0;
  for (const auto& l : out.links) out_bw = std::max(out_bw, l.bandwidth * out.efficiency);
  if (best < 0 || best_bw <= out_bw) return std::nullopt;
  return PlaneId{static_cast<size_t>(best)};
}

std::optional<MultiNodeRingLayout> multi_node_ring_layout(const std::vector<Plane>& planes, PlaneId out_id,
                                                         const std::string& traffic, const std::vector<int>& group) {
  const Plane& out = planes[out_id.index()];
  // The group's members node by node, in group order.
  std::map<int, std::vector<int>> by_node;
  std::vector<int> order;
  for (int d : group) {
    const int node = out.shape.node_of(d);
    if (!by_node.count(node)) order.push_back(node);
    by_node[node].push_back(d);
  }
  const int N = static_cast<int>(order.size());
  const int m = static_cast<int>(by_node[order.front()].size());
  if (N < 2 || m < 2) return std::nullopt;
  for (int node : order)
    if (static_cast<int>(by_node[node].size()) != m) return std::nullopt;
  const auto up = scale_up_plane(planes, out_id, traffic, group);
  if (!up) return std::nullopt;

  MultiNodeRingLayout r;
  r.up = *up, r.out = out_id, r.nodes = N, r.per_node = m;
  // Pair (x -> x+1) inside a node is a hop of every ring but the one that enters at x+1:
  // one flow of (m-1) hops. Ring c crosses from member c's NIC to member c of the next node
  // (rail-aligned, as NCCL pairs NICs: the same NIC in and out of a node). Bytes in hops.
  for (int a = 0; a < N; ++a) {
    const auto& here = by_node[order[a]];
    const auto& next = by_node[order[(a + 1) % N]];
    for (int x = 0; x < m; ++x) {
      r.up_flows.push_back({here[x], here[(x + 1) % m], double(m - 1)});
      r.out_flows.push_back({here[x], next[x], 1.0});
    }
  }
  r.up_side = side(planes[r.up.index()], r.up_flows);
  r.out_side = side(out, r.out_flows);
  return r;
}

std::optional<MultiNodeRing> multi_node_ring(const MultiNodeRingLayout& layout, const std::vector<Plane>& planes,
                                             CommKind op, double bytes) {
  if (op != CommKind::AllReduce && op != CommKind::AllGather && op != CommKind::ReduceScatter) return std::nullopt;
  const Plane& up = planes[layout.up.index()];
  const Plane& out = planes[layout.out.index()];
  const int N = layout.nodes, m = layout.per_node, n = N * m;
  MultiNodeRing r;
  r.up = layout.up, r.out = layout.out;
  const bool all_reduce = op == CommKind::AllReduce;
  // Bytes per rank around one ring, and per hop of one of the m rings.
  const double per_rank = (all_reduce ? 2.0 : 1.0) * (n - 1) / n * bytes;
  const double hop = per_rank / m;
  r.steps = all_reduce ? 2 * (n - 1) : n - 1;
  const double k = r.steps;
  const double k_out = all_reduce ? 2.0 * (N - 1) : N - 1;
  const RingSide& u = layout.up_side;
  const RingSide& o = layout.out_side;
  const double w_up = (m - 1) * hop, w_out = hop;

  // The protocol with the least T_p (the scale-up plane's table, else the scale-out plane's).
  const std::vector<Protocol>& table = !up.protocols.empty() ? up.protocols : out.protocols;
  double best_time = std::numeric_limits<double>::infinity(), best_latency = 0, efficiency = 1;
  for (const auto& p : table) {
    const Protocol* pu = named(up.protocols, p.name);
    const Protocol* po = named(out.protocols, p.name);
    const double fill = pipeline_fill(p, RampStage{k, 0, w_up}, u.rate, u.channels);
    const double latency = p.base_latency + fill + (k - k_out) * (u.latency + (pu ? pu->step_latency : 0)) +
                           k_out * (o.latency + (po ? po->step_latency : 0));
    const double t = latency + std::max(w_up / (p.efficiency * u.rate), w_out / (p.efficiency * o.rate));
    if (t < best_time) best_time = t, best_latency = latency, efficiency = p.efficiency, r.protocol = p.name;
  }
  if (table.empty()) best_latency = (k - k_out) * u.latency + k_out * o.latency;
  r.up_stage.flows = layout.up_flows;
  r.out_stage.flows = layout.out_flows;
  for (Stage* s : {&r.up_stage, &r.out_stage}) {
    s->rounds = 0;  // the chain latency above replaces k x (path latency) per flow
    s->extra_latency = best_latency;
    for (auto& f : s->flows) f.bytes *= hop / efficiency;
  }
  r.up_stage.channel_rate = u.channel_rate;
  r.out_stage.channel_rate = o.channel_rate;
  return r;
}

std::optional<MultiNodeRing> multi_node_ring(const std::vector<Plane>& planes, PlaneId out, const std::string& traffic,
                                             CommKind op, double bytes, const std::vector<int>& group) {
  if (op != CommKind::AllReduce && op != CommKind::AllGather && op != CommKind::ReduceScatter) return std::nullopt;
  const auto layout = multi_node_ring_layout(planes, out, traffic, group);
  if (!layout) return std::nullopt;
  return multi_node_ring(*layout, planes, op, bytes);
}

}  // namespace orrery
