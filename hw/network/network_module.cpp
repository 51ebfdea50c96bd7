#include "hw/network/network_module.h"

#include "sim/engine/process_guard.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <limits>

namespace orrery {

using sc_core::SC_SEC;
using sc_core::sc_time;

namespace {
constexpr double kEpsilonBytes = 1e-3;
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<double> max_min_rates_reference(const std::vector<std::vector<int>>& paths,
                                            const std::vector<double>& capacity) {
  std::vector<double> rate(paths.size(), 0);
  std::vector<bool> fixed(paths.size(), false);
  std::vector<double> left = capacity;
  std::vector<int> users(capacity.size(), 0);
  for (const auto& p : paths)
    for (int l : p) ++users[static_cast<size_t>(l)];
  size_t unfixed = paths.size();
  while (unfixed > 0) {
    double best = kInf;
    int bottleneck = -1;
    for (size_t l = 0; l < capacity.size(); ++l) {
      if (users[l] == 0) continue;
      const double share = left[l] / users[l];
      if (share < best) best = share, bottleneck = static_cast<int>(l);
    }
    if (bottleneck < 0) break;  // remaining flows cross no link (same device)
    for (size_t f = 0; f < paths.size(); ++f) {
      if (fixed[f]) continue;
      const auto& p = paths[f];
      if (std::find(p.begin(), p.end(), bottleneck) == p.end()) continue;
      fixed[f] = true;
      rate[f] = best;
      --unfixed;
      for (int l : p) {
        left[static_cast<size_t>(l)] -= best;
        --users[static_cast<size_t>(l)];
      }
    }
  }
  for (size_t f = 0; f < paths.size(); ++f)
    if (!fixed[f]) rate[f] = kInf;
  return rate;
}

void MaxMinSolver::sift_up(size_t i) {
  const int l = heap_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!less(l, heap_[parent])) break;
    heap_[i] = heap_[parent];
    pos_[static_cast<size_t>(heap_[i])] = static_cast<int>(i);
    i = parent;
  }
  heap_[i] = l;
  pos_[static_cast<size_t>(l)] = static_cast<int>(i);
}

void MaxMinSolver::sift_down(size_t i) {
  const int l = heap_[i];
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && less(heap_[child + 1], heap_[child])) ++child;
    if (!less(heap_[child], l)) break;
    heap_[i] = heap_[child];
    pos_[static_cast<size_t>(heap_[i])] = static_cast<int>(i);
    i = child;
  }
  heap_[i] = l;
  pos_[static_cast<size_t>(l)] = static_cast<int>(i);
}

void MaxMinSolver::heap_remove(size_t i) {
  pos_[static_cast<size_t>(heap_[i])] = -1;
  const int last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_[i] = last;
  pos_[static_cast<size_t>(last)] = static_cast<int>(i);
  sift_up(i);
  sift_down(static_cast<size_t>(pos_[static_cast<size_t>(last)]));
}

// Progressive filling with an indexed heap of link shares. Exactly the reference's
// arithmetic: the bottleneck is the link of smallest left/users (lowest index on ties), and
// every flow fixed at one bottleneck subtracts the same `best` from its links, so the order in
// which those flows are visited cannot change a single bit of `left`. After each bottleneck the
// links it touched get their new share (or leave the heap when no unfixed flow crosses them).
void MaxMinSolver::solve(const std::vector<int>& offset, const std::vector<int>& hops,
                         const std::vector<double>& capacity, std::vector<double>& rate) {
  const size_t nl = capacity.size(), nf = offset.size() - 1;
  left_.assign(capacity.begin(), capacity.end());
  share_.assign(nl, 0);
  users_.assign(nl, 0);
  is_dirty_.assign(nl, 0);
  pos_.assign(nl, -1);
  fixed_.assign(nf, 0);
  rate.assign(nf, 0);
  for (int l : hops) ++users_[static_cast<size_t>(l)];
  // CSR of flows per link.
  start_.assign(nl + 1, 0);
  for (size_t l = 0; l < nl; ++l) start_[l + 1] = start_[l] + users_[l];
  members_.resize(static_cast<size_t>(start_[nl]));
  std::vector<int>& fill = dirty_;  // reused as a cursor per link
  fill.assign(start_.begin(), start_.end() - 1);
  for (size_t f = 0; f < nf; ++f)
    for (int k = offset[f]; k < offset[f + 1]; ++k)
      members_[static_cast<size_t>(fill[static_cast<size_t>(hops[static_cast<size_t>(k)])]++)] = static_cast<int>(f);
  dirty_.clear();
  heap_.clear();
  for (size_t l = 0; l < nl; ++l) {
    if (users_[l] == 0) continue;
    share_[l] = left_[l] / users_[l];
    heap_.push_back(static_cast<int>(l));
    sift_up(heap_.size() - 1);
  }
  size_t unfixed = nf;
  while (unfixed > 0 && !heap_.empty()) {
    const size_t b = static_cast<size_t>(heap_.front());
    const double best = share_[b];
    for (int m = start_[b]; m < start_[b + 1]; ++m) {
      const size_t f = static_cast<size_t>(members_[static_cast<size_t>(m)]);
      if (fixed_[f]) continue;
      fixed_[f] = 1;
      rate[f] = best;
      --unfixed;
      for (int k = offset[f]; k < offset[f + 1]; ++k) {
        const size_t l = static_cast<size_t>(hops[static_cast<size_t>(k)]);
        left_[l] -= best;
        --users_[l];
        if (!is_dirty_[l]) is_dirty_[l] = 1, dirty_.push_back(static_cast<int>(l));
      }
    }
    for (int l : dirty_) {
      const size_t u = static_cast<size_t>(l);
      is_dirty_[u] = 0;
      const size_t at = static_cast<size_t>(pos_[u]);
      if (users_[u] == 0) {
        heap_remove(at);
      } else {
        share_[u] = left_[u] / users_[u];
        sift_up(at);
        sift_down(static_cast<size_t>(pos_[u]));
      }
    }
    dirty_.clear();
  }
  for (size_t f = 0; f < nf; ++f)
    if (!fixed_[f]) rate[f] = kInf;
}

std::vector<double> max_min_rates(const std::vector<std::vector<int>>& paths,
                                  const std::vector<double>& capacity) {
  std::vector<int> offset{0}, hops;
  for (const auto& p : paths) {
    hops.insert(hops.end(), p.begin(), p.end());
    offset.push_back(static_cast<int>(hops.size()));
  }
  std::vector<double> rate;
  MaxMinSolver().solve(offset, hops, capacity, rate);
  return rate;
}

std::vector<double> max_min_path_rates(const std::vector<Path>& paths, const std::vector<double>& capacity) {
  std::vector<std::vector<int>> links;
  links.reserve(paths.size());
  for (const auto& p : paths) {
    links.emplace_back();
    for (LinkId l : p) links.back().push_back(l.value);
  }
  return max_min_rates(links, capacity);
}

NetworkModule::NetworkModule(sc_core::sc_module_name name, const Plane& plane)
    : sc_module(name), plane_(plane), link_bytes_(plane.links.size(), 0.0) {
  for (const auto& l : plane_.links) capacity_.push_back(l.bandwidth * plane_.efficiency);
  SC_METHOD(step);
  sensitive << wake_;
  dont_initialize();
}

int NetworkModule::channel_link(EndpointId src, double rate) {
  if (rate <= 0) return -1;
  // A virtual link per endpoint and rate: the channels its collectives run on
  // (Plane::channel_plan). With folded rails rail 0 carries 1/rails of every transfer, so
  // 1/rails of the rate.
  const auto key = std::make_pair(static_cast<int>(src.value), rate);
  if (const auto hit = channel_links_.find(key); hit != channel_links_.end()) return hit->second;
  capacity_.push_back(rate / (plane_.rail_twin.empty() ? 1 : plane_.rails));
  const int id = static_cast<int>(capacity_.size()) - 1;
  channel_links_.emplace(key, id);
  return id;
}

void NetworkModule::start_flow(EndpointId src, EndpointId dst, double bytes, std::function<void()> done,
                               double latency_rounds, double extra_latency, double channel_rate) {
  // A multi-rail plane spreads every transfer over its rails (one path per port of src).
  if (plane_.spread)
    return start_spread_flow(src, dst, bytes, std::move(done), latency_rounds, extra_latency, channel_rate);
  start_path_flow(plane_.route(src, dst), bytes, std::move(done), latency_rounds, extra_latency,
                  channel_link(src, channel_rate));
}

// Multi-path transfers: one flow per path, the last arrival completes them.
void NetworkModule::start_spread_flow(EndpointId src, EndpointId dst, double bytes, std::function<void()> done,
                                      double latency_rounds, double extra_latency, double channel_rate) {
  const int chan = channel_link(src, channel_rate);
  if (!plane_.rail_twin.empty()) {
    // Rail folding: the rails are identical disjoint networks and each gets bytes / rails, so
    // rail 0 alone, carrying every transfer's share, finishes at the same times.
    Path path = plane_.route(src, dst);
    for (LinkId& l : path) l = plane_.rail_twin[l.index()];
    // (Rail 0 then has 1/rails of each endpoint's channel rate, see the constructor.)
    return start_path_flow(std::move(path), bytes / plane_.rails, std::move(done), latency_rounds, extra_latency,
                           chan);
  }
  auto paths = plane_.routes(src, dst);
  if (paths.size() == 1)
    return start_path_flow(std::move(paths.front()), bytes, std::move(done), latency_rounds, extra_latency, chan);
  auto left = std::make_shared<size_t>(paths.size());
  auto all_done = std::make_shared<std::function<void()>>(std::move(done));
  const double part = bytes / static_cast<double>(paths.size());
  for (auto& path : paths)
    start_path_flow(std::move(path), part, [left, all_done] {
      if (--*left == 0 && *all_done) (*all_done)();
    }, latency_rounds, extra_latency, chan);
}

void NetworkModule::start_path_flow(Path path, double bytes, std::function<void()> done,
                                    double latency_rounds, double extra_latency, int channel_link) {
  int id = 0;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<int>(flows_.size());
    flows_.emplace_back();
  }
  Flow& f = flows_[static_cast<size_t>(id)];
  f.path = std::move(path);
  f.remaining = bytes;
  f.carried = 0;
  f.rate = 0;
  double latency = 0;
  for (LinkId l : f.path) latency += plane_.link(l).latency;
  f.ready_at = sc_core::sc_time_stamp().to_seconds() + latency * latency_rounds + extra_latency;
  f.channel_link = channel_link;
  f.order = created_++;
  f.state = State::pending;
  f.done = std::move(done);
  pending_.push({f.ready_at, f.order, id});
  wake_.notify(sc_core::SC_ZERO_TIME);
}

const NetworkModule::Ports& NetworkModule::ports(EndpointId e) {
  if (ports_.size() <= e.index()) ports_.resize(e.index() + 1);
  PortLinks& p = ports_[e.index()];
  if (!p.known) {
    const int node = plane_.device_node(e);
    for (size_t l = 0; l < plane_.links.size(); ++l) {
      const Link& link = plane_.links[l];
      if (link.from == node) p.out.push_back(LinkId{l}), p.capacity.out_bw += link.bandwidth * plane_.efficiency;
      if (link.to == node) p.in.push_back(LinkId{l}), p.capacity.in_bw += link.bandwidth * plane_.efficiency;
    }
    p.known = true;
  }
  return p.capacity;
}

void NetworkModule::charge_ports(EndpointId e, double out_bytes, double in_bytes) {
  const Ports cap = ports(e);
  const PortLinks& p = ports_[e.index()];
  // With folded rails only rail 0's links keep counts (link_bytes() copies them to the twins).
  const auto charge = [&](const std::vector<LinkId>& links, double bytes, double total_bw) {
    if (bytes <= 0 || total_bw <= 0) return;
    for (LinkId l : links) {
      if (!plane_.rail_twin.empty() && plane_.rail_twin[l.index()] != l) continue;
      link_bytes_[l.index()] += bytes * plane_.links[l.index()].bandwidth * plane_.efficiency / total_bw;
    }
  };
  charge(p.out, out_bytes, cap.out_bw);
  charge(p.in, in_bytes, cap.in_bw);
}

std::vector<double> NetworkModule::link_bytes() const {
  std::vector<double> bytes = link_bytes_;
  for (int id : active_) {
    const Flow& f = flows_[static_cast<size_t>(id)];
    for (LinkId l : f.path) bytes[l.index()] += f.carried;
  }
  // Folded rails: every rail carried what rail 0 did.
  if (!plane_.rail_twin.empty())
    for (size_t l = 0; l < bytes.size(); ++l) bytes[l] = bytes[plane_.rail_twin[l].index()];
  return bytes;
}

void NetworkModule::advance(double now) {
  const double dt = now - last_;
  if (dt > 0) {
    for (int id : active_) {
      Flow& f = flows_[static_cast<size_t>(id)];
      const double moved = std::min(f.remaining, f.rate * dt);
      f.remaining -= moved;
      f.carried += moved;
    }
  }
  last_ = now;
}

void NetworkModule::assign_rates() {
  offset_buf_.assign(1, 0);
  hops_buf_.clear();
  for (int id : active_) {
    const auto& p = flows_[static_cast<size_t>(id)].path;
    for (LinkId l : p) hops_buf_.push_back(l.value);
    if (const int c = flows_[static_cast<size_t>(id)].channel_link; c >= 0) hops_buf_.push_back(c);
    offset_buf_.push_back(static_cast<int>(hops_buf_.size()));
  }
  solver_.solve(offset_buf_, hops_buf_, capacity_, rates_buf_);
  for (size_t k = 0; k < active_.size(); ++k) flows_[static_cast<size_t>(active_[k])].rate = rates_buf_[k];
  if (record_) log_rates();
}

void NetworkModule::log_rates() {
  const double now = sc_core::sc_time_stamp().to_seconds();
  const size_t nl = plane_.links.size();
  if (logged_load_.size() != nl) {
    logged_load_.assign(nl, 0);
    next_load_.assign(nl, 0);
    touched_mark_.assign(nl, 0);
  }
  // The new load of every link a flow crosses now, and of those that carried one before.
  touched_.clear();
  const auto touch = [&](size_t l) {
    if (touched_mark_[l]) return;
    touched_mark_[l] = 1;
    next_load_[l] = 0;
    touched_.push_back(static_cast<int>(l));
  };
  double total = 0;
  for (int id : active_) {
    const Flow& f = flows_[static_cast<size_t>(id)];
    if (!std::isfinite(f.rate)) continue;  // crosses no link
    total += f.rate;
    for (LinkId l : f.path) {
      touch(l.index());
      next_load_[l.index()] += f.rate;
    }
  }
  for (int l : live_links_) touch(static_cast<size_t>(l));
  live_links_.clear();
  // A load that moved by less than 1e-9 of itself did not change: the same flows summed in
  // another order (the integral is off by at most that fraction).
  const auto moved = [](double now_load, double logged) {
    return std::abs(now_load - logged) > 1e-9 * std::max(std::abs(now_load), std::abs(logged));
  };
  for (int l : touched_) {
    const size_t u = static_cast<size_t>(l);
    touched_mark_[u] = 0;
    if (moved(next_load_[u], logged_load_[u])) {
      rate_log_.push_back({now, l, next_load_[u] - logged_load_[u]});
      logged_load_[u] = next_load_[u];
    }
    if (logged_load_[u] != 0) live_links_.push_back(l);
  }
  // Folded rails: rail 0 carries 1/rails of every transfer.
  if (!plane_.rail_twin.empty()) total *= plane_.rails;
  if (moved(total, logged_total_)) {
    rate_log_.push_back({now, kPlaneTotal, total - logged_total_});
    logged_total_ = total;
  }
}

double NetworkModule::reserve_aggregate(const std::vector<int>& members, const std::vector<double>& out,
                                        const std::vector<double>& in, const std::vector<double>& lat_out,
                                        const std::vector<double>& lat_in, double lead, double max_out_bw) {
  const double now = sc_core::sc_time_stamp().to_seconds();
  // Books `bytes` on one side of a port from `earliest` (after what is booked on it) and logs
  // its links: link l carries bytes x (its bandwidth / the port's capacity), i.e. its rate
  // scaled by capacity / full capacity, for bytes / capacity seconds (charge_ports' split).
  const auto book = [&](const std::vector<LinkId>& links, double bytes, double capacity, double full,
                        double earliest, double& free_at, bool plane_total) {
    const double start = std::max(earliest, free_at);
    const double end = start + bytes / capacity;
    free_at = end;
    ports_busy_until_ = std::max(ports_busy_until_, end);
    if (record_) {
      for (LinkId l : links) {
        if (!plane_.rail_twin.empty() && plane_.rail_twin[l.index()] != l) continue;
        const double r = plane_.links[l.index()].bandwidth * plane_.efficiency * capacity / full;
        rate_log_.push_back({start, l.value, r});
        rate_log_.push_back({end, l.value, -r});
      }
      if (plane_total) {
        rate_log_.push_back({start, kPlaneTotal, capacity});
        rate_log_.push_back({end, kPlaneTotal, -capacity});
      }
    }
    return std::make_pair(start, end);
  };
  const auto clock = [&](int m) -> PortClock& {
    const size_t i = EndpointId{m}.index();
    if (port_clock_.size() <= i) port_clock_.resize(i + 1);
    return port_clock_[i];
  };
  double T = 0;
  double first_send = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < members.size(); ++i) {
    const EndpointId e{members[i]};
    charge_ports(e, out[i], in[i]);
    const Ports cap = ports(e);
    if (!(out[i] > 0) || cap.out_bw <= 0) continue;
    const double bw = max_out_bw > 0 ? std::min(cap.out_bw, max_out_bw) : cap.out_bw;
    const auto [start, end] = book(ports_[e.index()].out, out[i], bw, cap.out_bw, now + lead, clock(members[i]).out_free, true);
    first_send = std::min(first_send, start);
    T = std::max(T, end + lat_out[i] - now);
  }
  // Nothing arrives before the first sender starts (it may be queued behind an earlier aggregate).
  if (!(first_send < std::numeric_limits<double>::infinity())) first_send = now + lead;
  for (size_t j = 0; j < members.size(); ++j) {
    const EndpointId e{members[j]};
    const Ports cap = ports(e);
    if (!(in[j] > 0) || cap.in_bw <= 0) continue;
    const double end = book(ports_[e.index()].in, in[j], cap.in_bw, cap.in_bw, first_send + lat_in[j],
                            clock(members[j]).in_free, false).second;
    T = std::max(T, end - now);
  }
  return T;
}

void NetworkModule::retire(int id) {
  Flow& f = flows_[static_cast<size_t>(id)];
  for (LinkId l : f.path) link_bytes_[l.index()] += f.carried;
  f.state = State::free;
  f.path.clear();
  free_.push_back(id);
}

void NetworkModule::step() {
  guarded([this] { step_body(); });
}

void NetworkModule::step_body() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  const double res = sc_core::sc_get_time_resolution().to_seconds();
  advance(now);
  // Retire every flow that finishes now (their callbacks may start new ones), activate the
  // ready ones; the rates change only if one of the two happened.
  // Callbacks run in the order the flows became active (deterministic; active_ keeps that
  // order), then those of empty flows whose latency just elapsed.
  bool changed = false;
  std::vector<int> finished;
  size_t kept = 0;
  for (int id : active_) {
    const Flow& f = flows_[static_cast<size_t>(id)];
    if (f.remaining <= kEpsilonBytes || (f.rate > 0 && f.remaining / f.rate <= 2 * res))
      finished.push_back(id);
    else
      active_[kept++] = id;
  }
  if (kept < active_.size()) changed = true, active_.resize(kept);
  while (!pending_.empty() && pending_.top().ready_at <= now + res) {
    const int id = pending_.top().id;
    pending_.pop();
    Flow& f = flows_[static_cast<size_t>(id)];
    if (f.remaining <= kEpsilonBytes) {
      finished.push_back(id);
    } else {
      f.state = State::active;
      active_.push_back(id);
      changed = true;
    }
  }
  if (changed) assign_rates();  // rates do not depend on the order of the flows
  std::vector<std::function<void()>> callbacks;
  callbacks.reserve(finished.size());
  for (int id : finished) {
    callbacks.push_back(std::move(flows_[static_cast<size_t>(id)].done));
    retire(id);
  }
  for (auto& cb : callbacks)
    if (cb) cb();
  double next = kInf;
  for (int id : active_) {
    const Flow& f = flows_[static_cast<size_t>(id)];
    if (f.rate > 0) next = std::min(next, f.remaining / f.rate);
  }
  if (!pending_.empty()) next = std::min(next, pending_.top().ready_at - now);
  wake_.cancel();
  if (next < kInf) wake_.notify(delay(std::max(next, res)));
}

}  // namespace orrery
