// CommHub's transfers that use two planes at once: the ring collectives across nodes
// (sim/run/multi_node_ring.h), the node-forwarded all-to-all-v (sim/run/node_forward.h) and the
// library's all-to-all-v split between the nodes' own fabric and the network between them.
#include <fmt/format.h>

#include <memory>

#include "sim/run/comm_hub.h"
#include "sim/run/node_forward.h"

namespace orrery {

void CommHub::run_multi_node(const MultiNodeRing& ring, std::function<void()> done) {
  auto pending = std::make_shared<size_t>(ring.up_stage.flows.size() + ring.out_stage.flows.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (const auto& [plane, stage] : {std::pair{ring.up, &ring.up_stage}, std::pair{ring.out, &ring.out_stage}}) {
    NetworkModule& net = network(plane);
    for (const auto& f : stage->flows) {
      ++flows_;
      net.start_flow(EndpointId{f.src}, EndpointId{f.dst}, f.bytes, [pending, finish] {
        if (--*pending == 0) (*finish)();
      }, stage->rounds, stage->extra_latency, stage->channel_rate);
    }
  }
}

void CommHub::run_node_forward(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                               std::function<void()> done) {
  const SystemShape& shape = planes_[plane.index()].shape;
  std::vector<int> node;
  std::map<int, std::vector<int>> by_node;
  for (int m : group) {
    node.push_back(shape.node_of(m));
    by_node[node.back()].push_back(m);
  }
  CommOp flat = op;
  flat.node_forward = nullptr;
  // A group inside one node has nothing to forward: the flat all-to-all-v on its plane.
  if (by_node.size() == 1) return transfer_bytes(flat, group, plane, std::move(done), false);
  const NodeForwardTraffic t = node_forward_traffic(op, node);
  // The scale-up plane: the one the group's traffic class would use among one node's members
  // (NVLink on an H800 cluster). With one member per node there is nothing to forward.
  const std::vector<int>& one_node = by_node.begin()->second;
  if (one_node.size() < 2) return run_matrix(network(plane), group, t.scale_out, std::move(done));
  const PlaneId up = choose_plane(planes_, op.group, one_node);
  if (up == plane) {
    auto sum = t.scale_out;
    for (size_t i = 0; i < sum.size(); ++i)
      for (size_t j = 0; j < sum.size(); ++j) sum[i][j] += t.scale_up[i][j];
    return run_matrix(network(plane), group, sum, std::move(done));
  }
  auto pending = std::make_shared<int>(2);
  auto both = [pending, done = std::move(done)] {
    if (--*pending == 0) done();
  };
  run_matrix(network(plane), group, t.scale_out, both);
  run_matrix(network(up), group, t.scale_up, both);
}

namespace {

/// The library's costs (the size ramp) for an explicit traffic matrix on plane `p`, as
/// library_ramp does for a shared all-to-all-v: a stand-in stage of one flow per sending
/// member, carrying all it sends, to the member it sends most to.
Stage matrix_ramp(const Plane& p, const std::vector<int>& group, const std::vector<std::vector<double>>& sizes) {
  Stage s;
  s.rounds = 1;
  for (size_t i = 0; i < group.size(); ++i) {
    double out = 0, most = 0;
    size_t to = i;
    for (size_t j = 0; j < group.size(); ++j) {
      if (i == j) continue;
      out += sizes[i][j];
      if (sizes[i][j] > most) most = sizes[i][j], to = j;
    }
    if (out > 0) s.flows.push_back(FlowSpec{group[i], group[to], out});
  }
  std::vector<Stage> one{s};
  (void)apply_ramp(p, one);
  return one.front();
}

}  // namespace

void CommHub::run_library_split(const CommOp& op, const std::vector<int>& group, PlaneId out, PlaneId up,
                                std::function<void()> done) {
  // NCCL's all-to-all is point to point: a peer in the same node over the node's fabric, one in
  // another node through the NICs; both at once.
  const SystemShape& shape = planes_[out.index()].shape;
  const auto sizes = traffic_matrix(op, group.size());
  auto inside = sizes, across = sizes;
  for (size_t i = 0; i < group.size(); ++i)
    for (size_t j = 0; j < group.size(); ++j)
      (shape.node_of(group[i]) == shape.node_of(group[j]) ? across : inside)[i][j] = 0;
  auto pending = std::make_shared<int>(2);
  auto both = [pending, done = std::move(done)] {
    if (--*pending == 0) done();
  };
  const Stage ramp_in = matrix_ramp(planes_[up.index()], group, inside);
  const Stage ramp_across = matrix_ramp(planes_[out.index()], group, across);
  run_matrix(network(up), group, inside, both, &ramp_in);
  run_matrix(network(out), group, across, both, &ramp_across);
}

void CommHub::run_matrix(NetworkModule& net, const std::vector<int>& group,
                         const std::vector<std::vector<double>>& sizes, std::function<void()> done,
                         const Stage* ramp) {
  const double now = sc_core::sc_time_stamp().to_seconds();
  const bool aggregate_running = net.ports_busy_until() > now;
  const size_t n = group.size();
  // The library's costs: wire bytes / payload, a lead before the bytes, a channel cap per sender.
  double inflate = 1, lead = 0, max_out = 0;
  if (ramp && !ramp->flows.empty()) {
    double payload = 0;
    for (size_t j = 0; j < n; ++j)
      if (group[j] == ramp->flows.front().src)
        for (size_t k = 0; k < n; ++k) payload += j == k ? 0.0 : sizes[j][k];
    if (payload > 0) inflate = ramp->flows.front().bytes / payload;
    lead = ramp->extra_latency;
    max_out = ramp->channel_rate;
  }
  if (net.plane().device_non_blocking && !flows_only_ && net.idle()) {
    const Plane& p = net.plane();
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> out(n, 0.0), in(n, 0.0), lat_out(n, inf), lat_in(n, inf);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        if (i == j || !(sizes[i][j] > 0)) continue;
        const double l = p.path_latency(p.route(EndpointId{group[i]}, EndpointId{group[j]}));
        out[i] += sizes[i][j] * inflate, in[j] += sizes[i][j] * inflate;
        lat_out[i] = std::min(lat_out[i], l), lat_in[j] = std::min(lat_in[j], l);
      }
    const double T = net.reserve_aggregate(group, out, in, lat_out, lat_in, lead, max_out);
    ++aggregated_;
    after(T, std::move(done));
    return;
  }
  if (aggregate_running) ++aggregate_overlaps_;
  CollectiveSpec c;
  c.op = CommKind::AllToAllV;
  c.group = group;
  c.algorithm = "auto";
  c.sizes = sizes;
  auto stages = std::make_shared<std::vector<Stage>>(expand_stages(c));
  for (auto& st : *stages) {
    for (auto& f : st.flows) f.bytes *= inflate;
    st.extra_latency = lead;
    st.channel_rate = max_out;
  }
  run_stages(net, stages, 0, std::move(done), ramp != nullptr);
}

}  // namespace orrery
