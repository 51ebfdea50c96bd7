#include "sim/run/comm_hub.h"

#include "sim/engine/process_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "sim/config/errors.h"
#include "sim/run/multi_node_ring.h"
#include "sim/run/node_forward.h"

namespace orrery {

namespace {

CommGroup opposite(CommGroup g) {
  return g == CommGroup::PipelineNext ? CommGroup::PipelinePrev : CommGroup::PipelineNext;
}

}  // namespace

std::vector<std::vector<double>> traffic_matrix(const CommOp& op, size_t n) {
  if (!op.shares || op.shares->size() != n)
    throw std::logic_error("all_to_all_v op without one share per member of its group");
  std::vector<std::vector<double>> sizes(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double b = op.bytes * (*op.shares)[j];
      (op.reverse ? sizes[j][i] : sizes[i][j]) = b;
    }
  return sizes;
}

std::string apply_ramp(const Plane& p, std::vector<Stage>& stages) {
  if (p.protocols.empty() && !p.channel_search && p.channels == 0) return "";
  // The protocol's costs go on each stage's flows as extra latency before their bytes move;
  // their wire bytes and the channel limit make the rest (NetworkModule).
  // The estimate's inputs: per stage k_s, λ_s (its slowest path), W_s (its busiest sender);
  // C channels of b from the narrowest link any sender's path crosses (Plane::channel_plan:
  // NCCL's ring search on the group's own links, or the declared channels);
  // R = the slowest sender's min(port capacity, C x b).
  std::vector<RampStage> ramp;
  std::map<int, double> port;  // endpoint -> capacity of its links out
  double bottleneck = std::numeric_limits<double>::infinity();
  for (const auto& st : stages) {
    RampStage r{static_cast<double>(st.rounds), 0, 0};
    std::map<int, double> out;
    for (const auto& f : st.flows) {
      const Path path = p.route(EndpointId{f.src}, EndpointId{f.dst});
      r.latency = std::max(r.latency, p.path_latency(path));
      bottleneck = std::min(bottleneck, p.bottleneck(path));
      out[f.src] += f.bytes;
      if (!port.count(f.src)) port[f.src] = p.out_capacity(EndpointId{f.src});
    }
    for (const auto& [src, bytes] : out) r.bytes = std::max(r.bytes, bytes);
    ramp.push_back(r);
  }
  if (port.empty()) return "";
  const ChannelPlan chan = p.channel_plan(bottleneck);
  double rate = std::numeric_limits<double>::infinity();
  for (const auto& [src, c] : port) rate = std::min(rate, chan.rate() > 0 ? std::min(c, chan.rate()) : c);
  for (auto& st : stages) st.channel_rate = chan.rate();
  if (p.protocols.empty()) return "";  // the channels alone, no protocol costs
  const Protocol& proto = *choose_protocol(p.protocols, ramp, rate, chan.channels).protocol;
  // base_p and the pipeline fill once (on the first stage), step_p on every round.
  const double once = proto.base_latency + collective_fill(proto, ramp, rate, chan.channels);
  bool first = true;
  for (auto& st : stages) {
    if (st.flows.empty()) continue;
    for (auto& f : st.flows) f.bytes /= proto.efficiency;
    st.extra_latency = st.rounds * proto.step_latency + (first ? once : 0.0);
    first = false;
  }
  return proto.name;
}

bool joins(const Plane& p, const std::vector<int>& members) {
  for (size_t i = 0; i < members.size(); ++i)
    for (size_t j = 0; j < members.size(); ++j)
      if (i != j && !p.connects(EndpointId{members[i]}, EndpointId{members[j]})) return false;
  return true;
}

CommHub::CommHub(sc_core::sc_module_name name, const ParallelSpec& par,
                 const std::vector<Plane>& planes, std::vector<int> ranks)
    : sc_module(name), par_(par), planes_(planes), ranks_(std::move(ranks)), sim_(ranks_.size()) {
  for (const auto& p : planes_)
    nets_.push_back(std::make_unique<NetworkModule>(fmt::format("net_{}", p.name).c_str(), p));
  SC_METHOD(flush);
  sensitive << flush_;
  dont_initialize();
  SC_METHOD(on_timer);
  sensitive << timer_;
  dont_initialize();
}

void CommHub::after(double seconds, std::function<void()> fn) {
  const double at = sc_core::sc_time_stamp().to_seconds() + seconds;
  timers_.emplace(at, std::move(fn));
  timer_.cancel();
  const double next = timers_.begin()->first - sc_core::sc_time_stamp().to_seconds();
  const double res = sc_core::sc_get_time_resolution().to_seconds();
  timer_.notify(delay(std::max(next, res)));
}

void CommHub::on_timer() {
  guarded([this] { on_timer_body(); });
}

void CommHub::on_timer_body() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  const double res = sc_core::sc_get_time_resolution().to_seconds();
  std::vector<std::function<void()>> due;
  while (!timers_.empty() && timers_.begin()->first <= now + res) {
    due.push_back(std::move(timers_.begin()->second));
    timers_.erase(timers_.begin());
  }
  if (!timers_.empty())
    timer_.notify(delay(std::max(timers_.begin()->first - now, res)));
  for (auto& fn : due) fn();
}

const std::pair<std::vector<double>, std::vector<double>>& CommHub::member_latency(
    NetworkModule& net, const std::vector<int>& group) {
  const auto key = std::make_pair(static_cast<const NetworkModule*>(&net), group);
  if (const auto hit = latency_cache_.find(key); hit != latency_cache_.end()) return hit->second;
  const Plane& p = net.plane();
  const size_t n = group.size();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> out(n, inf), in(n, inf);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double l = p.path_latency(p.route(EndpointId{group[i]}, EndpointId{group[j]}));
      out[i] = std::min(out[i], l);
      in[j] = std::min(in[j], l);
    }
  return latency_cache_.emplace(key, std::make_pair(out, in)).first->second;
}

namespace {

/// Bytes member e of an all_to_all_v sends and receives: sizes[i][j] = bytes x share_j
/// (i != j), so e sends bytes x (1 - share_e) and receives (n - 1) x bytes x share_e; a combine
/// (reverse) the other way round.
std::pair<double, double> member_bytes(const CommOp& op, size_t n, size_t e) {
  const double share = (*op.shares)[e];
  double out = op.bytes * (1 - share), in = double(n - 1) * op.bytes * share;
  if (op.reverse) std::swap(out, in);
  return {out, in};
}

/// The communication library's costs for an all_to_all_v (NCCL runs it as one round of direct
/// sends, like all_to_all): apply_ramp on a stand-in stage with one flow per member carrying
/// what that member sends (the busiest sender), to the member half the group away (node-major
/// numbering: another node, another leaf, so its path is among the slowest and narrowest the
/// full n x (n - 1) flows would cross). The stage's extra_latency is the protocol's fixed cost,
/// its flows' bytes grow by 1 / efficiency, channel_rate caps a sender.
Stage library_ramp(const Plane& p, const CommOp& op, const std::vector<int>& group) {
  Stage s;
  s.rounds = 1;
  const size_t n = group.size();
  for (size_t e = 0; e < n; ++e)
    s.flows.push_back(FlowSpec{group[e], group[(e + std::max<size_t>(1, n / 2)) % n], member_bytes(op, n, e).first});
  std::vector<Stage> one{s};
  (void)apply_ramp(p, one);
  return one.front();
}

}  // namespace

void CommHub::run_aggregate(NetworkModule& net, const CommOp& op, const std::vector<int>& group,
                            std::function<void()> done, const Stage* ramp) {
  const size_t n = group.size();
  if (!op.shares || op.shares->size() != n)
    throw std::logic_error("all_to_all_v op without one share per member of its group");
  const auto& [lat_out, lat_in] = member_latency(net, group);
  // Through the library: the protocol's wire bytes (1 / efficiency), its channels' rate per
  // sender and its fixed cost (library_ramp).
  double inflate = 1, extra = 0, max_out = 0;
  if (ramp) {
    for (size_t e = 0; e < n && inflate == 1; ++e) {
      const double out = member_bytes(op, n, e).first;
      if (out > 0) inflate = ramp->flows[e].bytes / out;
    }
    extra = ramp->extra_latency;
    max_out = ramp->channel_rate;
  }
  std::vector<double> out(n), in(n);
  for (size_t e = 0; e < n; ++e) {
    const auto [o, i] = member_bytes(op, n, e);
    out[e] = o * inflate, in[e] = i * inflate;
  }
  // Alone on its ports: T = extra + max over e of (out_e / B_out + lat_out, in_e / B_in + lat_in);
  // after the aggregates already booked on them when several overlap.
  const double T = net.reserve_aggregate(group, out, in, lat_out, lat_in, extra, max_out);
  ++aggregated_;
  after(T, std::move(done));
}

void CommHub::attach(size_t index, Device& device, const OpSource& source) {
  sim_[index].device = &device;
  sim_[index].source = &source;
  // Runs inside the device's process, which is guarded (sim/engine/process_guard.h).
  device.on_comm_start = [this, index](OpId id) { start(index, id); };
}

std::vector<std::vector<double>> CommHub::link_bytes() const {
  std::vector<std::vector<double>> out;
  for (const auto& n : nets_) out.push_back(n->link_bytes());
  return out;
}

std::vector<std::vector<RateChange>> CommHub::take_rate_logs() {
  std::vector<std::vector<RateChange>> out;
  for (auto& n : nets_) out.push_back(n->take_rate_log());
  return out;
}

long CommHub::events() const {
  long e = events_;
  for (const auto& n : nets_) e += n->events();
  return e;
}

void CommHub::complete_later(size_t index, OpId id) {
  ready_.push_back({index, id});
  flush_.notify(sc_core::SC_ZERO_TIME);
}

void CommHub::flush() {
  guarded([this] { flush_body(); });
}

void CommHub::flush_body() {
  ++events_;
  auto ready = std::move(ready_);
  ready_.clear();
  for (const auto& [index, id] : ready) done(index, id);
}

void CommHub::start(size_t index, OpId id) {
  const Op& op = sim_[index].source->op(id);
  if (op.comm.op == CommKind::Send) return start_send(index, id);
  if (op.comm.op == CommKind::Recv) return start_recv(index, id);
  start_collective(index, id);
}

std::vector<std::vector<int>> CommHub::replica_groups(CommGroup kind, int rank) const {
  if (par_.all_ranks) return {group_of(par_, kind, rank)};
  const RankCoord c = coord_of(par_, rank);
  std::vector<std::vector<int>> groups;
  for (int d = 0; d < par_.dp; ++d)
    for (int t = 0; t < par_.tp; ++t) {
      // One group per tensor group (t = 0) or data group (d = 0); every pipeline pair.
      if ((kind == CommGroup::Tensor && t > 0) || (kind == CommGroup::Data && d > 0) ||
          (kind == CommGroup::Expert && d % par_.ep != 0) ||
          (kind == CommGroup::Attention && d % par_.attention_group != 0))
        continue;
      groups.push_back(group_of(par_, kind, rank_of(par_, {t, d, c.p})));
    }
  return groups;
}

PlaneId choose_plane(const std::vector<Plane>& planes, CommGroup kind,
                     const std::vector<int>& members) {
  int best = -1;
  bool best_carries = false;
  double best_bw = 0;
  const std::string cls = traffic_class(kind);
  for (size_t i = 0; i < planes.size(); ++i) {
    const Plane& p = planes[i];
    if (!joins(p, members)) continue;
    const bool carries = std::find(p.traffic.begin(), p.traffic.end(), cls) != p.traffic.end() ||
                         p.traffic.empty();
    double bw = 0;
    for (const auto& l : p.links) bw = std::max(bw, l.bandwidth);
    bw *= p.efficiency;
    if (best < 0 || (carries && !best_carries) || (carries == best_carries && bw > best_bw)) {
      best = static_cast<int>(i);
      best_carries = carries;
      best_bw = bw;
    }
  }
  if (best < 0) {
    std::string m;
    for (int r : members) m += (m.empty() ? "" : ", ") + std::to_string(r);
    throw ConfigError(fmt::format(
        "system.planes: no network plane joins the {} group of devices [{}] that the workload's "
        "parallel layout needs; add a plane that connects them, or change workload.parallel",
        comm_group_name(kind), m));
  }
  return PlaneId{best};
}

PlaneId CommHub::plane_for(CommGroup kind, const std::vector<int>& members) {
  // Every step issues the same groups again: decide once per (kind, members).
  const auto key = std::make_pair(static_cast<int>(kind), members);
  if (const auto hit = plane_cache_.find(key); hit != plane_cache_.end()) return hit->second;
  const PlaneId best = choose_plane(planes_, kind, members);
  group_plane_.emplace(kind, best);
  plane_cache_.emplace(key, best);
  return best;
}

void CommHub::run_stages(NetworkModule& net, std::shared_ptr<std::vector<Stage>> stages, size_t k,
                         std::function<void()> done, bool channel_limited) {
  while (k < stages->size() && (*stages)[k].flows.empty()) ++k;
  if (k >= stages->size()) return done();
  const Stage& stage = (*stages)[k];
  auto pending = std::make_shared<size_t>(stage.flows.size());
  for (const auto& f : stage.flows) {
    ++flows_;
    net.start_flow(EndpointId{f.src}, EndpointId{f.dst}, f.bytes, [this, &net, stages, k, pending, done, channel_limited] {
      if (--*pending == 0) run_stages(net, stages, k + 1, done, channel_limited);
    }, stage.rounds, stage.extra_latency, channel_limited ? stage.channel_rate : 0.0);
  }
}

void CommHub::run_groups(const CommOp& op, const std::vector<std::vector<int>>& groups,
                         std::function<void()> done) {
  const PlaneId plane = plane_for(op.group, groups.front());
  auto pending = std::make_shared<size_t>(groups.size());
  for (const auto& g : groups)
    transfer(op, g, plane, [pending, done] {
      if (--*pending == 0) done();
    });
}

double fused_overhead(const Plane& p, CommOp::Fused kind, size_t members) {
  if (!p.fused)
    throw ConfigError(fmt::format(
        "moe.a2a: fused needs the plane carrying expert traffic ('{}') to support fused "
        "all-to-all-v (a load/store fabric: set fused_dispatch_startup, fused_combine_startup and "
        "fused_per_peer on it), or use moe.a2a: collective", p.name));
  const double startup = kind == CommOp::Fused::dispatch ? p.fused->dispatch_startup : p.fused->combine_startup;
  return startup + double(members - 1) * p.fused->per_peer;
}

void CommHub::transfer(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                       std::function<void()> done) {
  NetworkModule& net = network(plane);
  if (op.fused != CommOp::Fused::no) {
    // moe.a2a is one of fused, hierarchical (node-forwarded) or collective.
    if (op.node_forward) throw std::logic_error("a fused all_to_all_v cannot also be node-forwarded");
    // The kernel's fixed and per-peer costs first, then its stores move the bytes.
    CommOp plain = op;
    plain.fused = CommOp::Fused::no;
    after(fused_overhead(net.plane(), op.fused, group.size()),
          [this, plain, group, plane, done = std::move(done)]() mutable {
            transfer_bytes(plain, group, plane, std::move(done), false);
          });
    return;
  }
  // A node-forwarded all_to_all_v is DeepEP's kernels, not the library's.
  if (op.op == CommKind::AllToAllV && op.node_forward) return run_node_forward(op, group, plane, std::move(done));
  transfer_bytes(op, group, plane, std::move(done), true);
}

void CommHub::transfer_bytes(const CommOp& op, const std::vector<int>& group, PlaneId plane,
                             std::function<void()> done, bool library) {
  NetworkModule& net = network(plane);
  const double now = sc_core::sc_time_stamp().to_seconds();
  // The library's all-to-all across nodes: intra-node pairs on the node's own plane.
  if (op.op == CommKind::AllToAllV && library) {
    const auto key = std::make_tuple(plane.index(), static_cast<int>(op.group), group);
    auto it = scale_up_.find(key);
    if (it == scale_up_.end())
      it = scale_up_.emplace(key, scale_up_plane(planes_, plane, traffic_class(op.group), group)).first;
    if (it->second) return run_library_split(op, group, plane, *it->second, std::move(done));
  }
  // Aggregates overlap each other by queueing on the ports; flows do not see them.
  const bool aggregate_running = net.ports_busy_until() > now;
  if (op.op == CommKind::AllToAllV && net.plane().device_non_blocking && !flows_only_ && net.idle()) {
    if (!library) return run_aggregate(net, op, group, std::move(done));
    const Stage ramp = library_ramp(net.plane(), op, group);
    return run_aggregate(net, op, group, std::move(done), &ramp);
  }
  if (aggregate_running) ++aggregate_overlaps_;
  // A ring collective over several nodes: NCCL's rings, one per NIC, inside nodes on their own
  // plane (sim/run/multi_node_ring.h).
  if (library && (op.op == CommKind::AllReduce || op.op == CommKind::AllGather || op.op == CommKind::ReduceScatter)) {
    // Every step issues the same groups again: lay the rings out once per (plane, kind, group).
    const auto key = std::make_tuple(plane.index(), static_cast<int>(op.group), group);
    auto it = ring_layouts_.find(key);
    if (it == ring_layouts_.end())
      it = ring_layouts_.emplace(key, multi_node_ring_layout(planes_, plane, traffic_class(op.group), group)).first;
    if (it->second)
      if (auto ring = multi_node_ring(*it->second, planes_, op.op, op.bytes)) return run_multi_node(*ring, std::move(done));
  }
  // A collective runs as NCCL's ring, in stages of concurrent flows (workloads/collective.h).
  auto stages = std::make_shared<std::vector<Stage>>();
  if (op.op == CommKind::Send) {
    stages->push_back({{FlowSpec{group[0], group[1], op.bytes}}, 1});
  } else {
    CollectiveSpec c;
    c.op = op.op;
    c.bytes = op.bytes;
    c.group = group;
    c.algorithm = "auto";
    if (op.op == CommKind::AllToAllV) c.sizes = traffic_matrix(op, group.size());
    *stages = expand_stages(c);
  }
  // Every NCCL collective and send/recv follows the size ramp (protocol, channels), the expert
  // all_to_all_v through the library too; fused and node-forwarded kernels do not.
  const bool ramp = library;
  if (ramp) (void)apply_ramp(net.plane(), *stages);
  run_stages(net, stages, 0, std::move(done), ramp);
}

void CommHub::start_collective(size_t index, OpId id) {
  Rank& me = sim_[index];
  const CommOp& op = me.source->op(id).comm;
  const int rank = ranks_[index];
  const int seq = me.seq[op.group]++;
  if (!par_.all_ranks) {
    run_groups(op, replica_groups(op.group, rank), [this, index, id] { done(index, id); });
    return;
  }
  // Every rank is simulated: the collective starts when the last member of the group arrives.
  const auto group = group_of(par_, op.group, rank);
  const CollectiveKey key{static_cast<int>(op.group), group.front(), seq};
  Members& waiting = waiting_[key];
  waiting.push_back({index, id});
  if (waiting.size() < group.size()) return;
  Members members = std::move(waiting);
  waiting_.erase(key);
  run_groups(op, {group}, [this, members] {
    for (const auto& [i, op_id] : members) done(i, op_id);
  });
}

void CommHub::start_send(size_t index, OpId id) {
  const CommOp& op = sim_[index].source->op(id).comm;
  const int rank = ranks_[index];
  const int receiver = group_of(par_, op.group, rank)[1];
  const TransferKey key{rank, receiver, static_cast<int>(op.group), op.tag};
  run_groups(op, replica_groups(op.group, rank), [this, index, id, key] {
    Transfer& t = transfers_[key];
    t.arrived = true;
    if (t.recv_index >= 0) {
      done(static_cast<size_t>(t.recv_index), t.recv_op);
      transfers_.erase(key);
    }
    done(index, id);
  });
}

void CommHub::start_recv(size_t index, OpId id) {
  const CommOp& op = sim_[index].source->op(id).comm;
  const int rank = ranks_[index];
  const int sender = group_of(par_, op.group, rank)[1];
  const TransferKey key{sender, rank, static_cast<int>(opposite(op.group)), op.tag};
  Transfer& t = transfers_[key];
  if (t.arrived) {
    transfers_.erase(key);
    complete_later(index, id);
    return;
  }
  t.recv_index = static_cast<int>(index);
  t.recv_op = id;
}

}  // namespace orrery
