#include "sim/parallel/comm_hub.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace orrery {

namespace {

CommGroup opposite(CommGroup g) {
  return g == CommGroup::PipelineNext ? CommGroup::PipelinePrev : CommGroup::PipelineNext;
}

bool joins(const Plane& p, const std::vector<int>& members) {
  for (size_t i = 0; i < members.size(); ++i)
    for (size_t j = 0; j < members.size(); ++j)
      if (i != j && !p.connects(EndpointId{members[i]}, EndpointId{members[j]})) return false;
  return true;
}

}  // namespace

CommHub::CommHub(sc_core::sc_module_name name, const ParallelSpec& par,
                 const std::vector<Plane>& planes, std::vector<int> ranks)
    : sc_module(name), par_(par), planes_(planes), ranks_(std::move(ranks)), sim_(ranks_.size()) {
  for (const auto& p : planes_)
    nets_.push_back(std::make_unique<NetworkModule>(fmt::format("net_{}", p.name).c_str(), p));
  SC_METHOD(flush);
  sensitive << flush_;
  dont_initialize();
}

void CommHub::attach(int index, KernelDeviceModule& device, const OpGraph& graph) {
  sim_[static_cast<size_t>(index)].device = &device;
  sim_[static_cast<size_t>(index)].graph = &graph;
  device.on_comm_start = [this, index](OpId id) { start(index, id); };
}

std::vector<std::vector<double>> CommHub::link_bytes() const {
  std::vector<std::vector<double>> out;
  for (const auto& n : nets_) out.push_back(n->link_bytes());
  return out;
}

long CommHub::events() const {
  long e = events_;
  for (const auto& n : nets_) e += n->events();
  return e;
}

void CommHub::complete_later(int index, OpId id) {
  ready_.push_back({index, id});
  flush_.notify(sc_core::SC_ZERO_TIME);
}

void CommHub::flush() {
  ++events_;
  auto ready = std::move(ready_);
  ready_.clear();
  for (const auto& [index, id] : ready) sim_[static_cast<size_t>(index)].device->comm_done(id);
}

void CommHub::start(int index, OpId id) {
  const Op& op = (*sim_[static_cast<size_t>(index)].graph)[id];
  if (op.comm.op == "send") return start_send(index, id);
  if (op.comm.op == "recv") return start_recv(index, id);
  start_collective(index, id);
}

std::vector<std::vector<int>> CommHub::replica_groups(CommGroup kind, int rank) const {
  if (par_.all_ranks) return {group_of(par_, kind, rank)};
  const RankCoord c = coord_of(par_, rank);
  std::vector<std::vector<int>> groups;
  for (int d = 0; d < par_.dp; ++d)
    for (int t = 0; t < par_.tp; ++t) {
      // One group per tensor group (t = 0) or data group (d = 0); every pipeline pair.
      if ((kind == CommGroup::Tensor && t > 0) || (kind == CommGroup::Data && d > 0)) continue;
      groups.push_back(group_of(par_, kind, rank_of(par_, {t, d, c.p})));
    }
  return groups;
}

int CommHub::choose_plane(CommGroup kind, const std::vector<int>& members) {
  // Every step issues the same groups again: decide once per (kind, members).
  const auto key = std::make_pair(static_cast<int>(kind), members);
  if (const auto hit = plane_cache_.find(key); hit != plane_cache_.end()) return hit->second;
  int best = -1;
  bool best_carries = false;
  double best_bw = 0;
  const std::string cls = traffic_class(kind);
  for (size_t i = 0; i < planes_.size(); ++i) {
    const Plane& p = planes_[i];
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
    throw std::runtime_error(fmt::format(
        "no network plane joins the {} group of devices [{}]; add a plane that connects them", 
        comm_group_name(kind), m));
  }
  group_plane_.emplace(kind, best);
  plane_cache_.emplace(key, best);
  return best;
}

void CommHub::run_stages(NetworkModule& net, std::shared_ptr<std::vector<Stage>> stages, size_t k,
                         std::function<void()> done) {
  while (k < stages->size() && (*stages)[k].flows.empty()) ++k;
  if (k >= stages->size()) return done();
  const Stage& stage = (*stages)[k];
  auto pending = std::make_shared<size_t>(stage.flows.size());
  for (const auto& f : stage.flows) {
    ++flows_;
    net.start_flow(EndpointId{f.src}, EndpointId{f.dst}, f.bytes, [this, &net, stages, k, pending, done] {
      if (--*pending == 0) run_stages(net, stages, k + 1, done);
    }, stage.rounds);
  }
}

void CommHub::run_groups(CommGroup kind, const CommOp& op,
                         const std::vector<std::vector<int>>& groups, std::function<void()> done) {
  NetworkModule& net = *nets_[static_cast<size_t>(choose_plane(kind, groups.front()))];
  auto pending = std::make_shared<size_t>(groups.size());
  for (const auto& g : groups) {
    // A collective runs as NCCL's ring, in stages of concurrent flows (workloads/collective.h).
    auto stages = std::make_shared<std::vector<Stage>>();
    if (op.op == "send") {
      stages->push_back({{FlowSpec{g[0], g[1], op.bytes}}, 1});
    } else {
      CollectiveSpec c;
      c.op = op.op;
      c.bytes = op.bytes;
      c.group = g;
      c.algorithm = "auto";
      *stages = expand_stages(c);
    }
    run_stages(net, stages, 0, [pending, done] {
      if (--*pending == 0) done();
    });
  }
}

void CommHub::start_collective(int index, OpId id) {
  Rank& me = sim_[static_cast<size_t>(index)];
  const CommOp& op = (*me.graph)[id].comm;
  const int rank = ranks_[static_cast<size_t>(index)];
  const int seq = me.seq[op.group]++;
  if (!par_.all_ranks) {
    run_groups(op.group, op, replica_groups(op.group, rank),
               [this, index, id] { sim_[static_cast<size_t>(index)].device->comm_done(id); });
    return;
  }
  // Every rank is simulated: the collective starts when the last member of the group arrives.
  const auto group = group_of(par_, op.group, rank);
  const CollectiveKey key{static_cast<int>(op.group), group.front(), seq};
  Waiting& w = waiting_[key];
  w.members.push_back({index, id});
  if (w.members.size() < group.size()) return;
  auto members = std::move(w.members);
  waiting_.erase(key);
  run_groups(op.group, op, {group}, [this, members] {
    for (const auto& [i, op_id] : members) sim_[static_cast<size_t>(i)].device->comm_done(op_id);
  });
}

void CommHub::start_send(int index, OpId id) {
  const CommOp& op = (*sim_[static_cast<size_t>(index)].graph)[id].comm;
  const int rank = ranks_[static_cast<size_t>(index)];
  const int receiver = group_of(par_, op.group, rank)[1];
  const TransferKey key{rank, receiver, static_cast<int>(op.group), op.tag};
  run_groups(op.group, op, replica_groups(op.group, rank), [this, index, id, key] {
    Transfer& t = transfers_[key];
    t.arrived = true;
    if (t.recv_index >= 0) {
      sim_[static_cast<size_t>(t.recv_index)].device->comm_done(t.recv_op);
      transfers_.erase(key);
    }
    sim_[static_cast<size_t>(index)].device->comm_done(id);
  });
}

void CommHub::start_recv(int index, OpId id) {
  const CommOp& op = (*sim_[static_cast<size_t>(index)].graph)[id].comm;
  const int rank = ranks_[static_cast<size_t>(index)];
  const int sender = group_of(par_, op.group, rank)[1];
  const TransferKey key{sender, rank, static_cast<int>(opposite(op.group)), op.tag};
  Transfer& t = transfers_[key];
  if (t.arrived) {
    transfers_.erase(key);
    complete_later(index, id);
    return;
  }
  t.recv_index = index;
  t.recv_op = id;
}

}  // namespace orrery
