#include "hw/network/network_module.h"

#include <algorithm>
#include <limits>
#include <memory>

namespace orrery {

using sc_core::SC_SEC;
using sc_core::sc_time;

namespace {
constexpr double kEpsilonBytes = 1e-3;
}

std::vector<double> max_min_rates(const std::vector<std::vector<int>>& paths,
                                  const std::vector<double>& capacity) {
  std::vector<double> rate(paths.size(), 0);
  std::vector<bool> fixed(paths.size(), false);
  std::vector<double> left = capacity;
  std::vector<int> users(capacity.size(), 0);
  for (const auto& p : paths)
    for (int l : p) ++users[static_cast<size_t>(l)];
  size_t unfixed = paths.size();
  while (unfixed > 0) {
    double best = std::numeric_limits<double>::infinity();
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
    if (!fixed[f]) rate[f] = std::numeric_limits<double>::infinity();
  return rate;
}

NetworkModule::NetworkModule(sc_core::sc_module_name name, const Plane& plane)
    : sc_module(name), plane_(plane), link_bytes_(plane.links.size(), 0.0) {
  SC_METHOD(step);
  sensitive << wake_;
  dont_initialize();
}

void NetworkModule::start_flow(int src, int dst, double bytes, std::function<void()> done) {
  Flow f;
  f.path = plane_.route(src, dst);
  f.remaining = bytes;
  double latency = 0;
  for (int l : f.path) latency += plane_.links[static_cast<size_t>(l)].latency;
  f.ready_at = sc_core::sc_time_stamp().to_seconds() + latency;
  f.done = std::move(done);
  flows_.push_back(std::move(f));
  wake_.notify(sc_core::SC_ZERO_TIME);
}

// Multi-path transfers (systems branch): one flow per path, the last arrival completes them.
void NetworkModule::start_spread_flow(int src, int dst, double bytes, std::function<void()> done) {
  auto paths = plane_.routes(src, dst);
  auto left = std::make_shared<size_t>(paths.size());
  auto all_done = std::make_shared<std::function<void()>>(std::move(done));
  const double part = bytes / static_cast<double>(paths.size());
  for (auto& path : paths)
    start_path_flow(std::move(path), part, [left, all_done] {
      if (--*left == 0 && *all_done) (*all_done)();
    });
}

void NetworkModule::start_path_flow(std::vector<int> path, double bytes, std::function<void()> done) {
  Flow f;
  f.path = std::move(path);
  f.remaining = bytes;
  double latency = 0;
  for (int l : f.path) latency += plane_.links[static_cast<size_t>(l)].latency;
  f.ready_at = sc_core::sc_time_stamp().to_seconds() + latency;
  f.done = std::move(done);
  flows_.push_back(std::move(f));
  wake_.notify(sc_core::SC_ZERO_TIME);
}

void NetworkModule::advance(double now) {
  const double dt = now - last_;
  if (dt > 0) {
    for (auto& f : flows_) {
      if (!f.active) continue;
      const double moved = std::min(f.remaining, f.rate * dt);
      f.remaining -= moved;
      for (int l : f.path) link_bytes_[static_cast<size_t>(l)] += moved;
    }
  }
  last_ = now;
}

void NetworkModule::assign_rates() {
  std::vector<std::vector<int>> paths;
  std::vector<size_t> index;
  for (size_t i = 0; i < flows_.size(); ++i) {
    if (!flows_[i].active) continue;
    paths.push_back(flows_[i].path);
    index.push_back(i);
  }
  std::vector<double> capacity;
  for (const auto& l : plane_.links) capacity.push_back(l.bandwidth * plane_.efficiency);
  const auto rates = max_min_rates(paths, capacity);
  for (size_t k = 0; k < index.size(); ++k) flows_[index[k]].rate = rates[k];
}

void NetworkModule::step() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  const double res = sc_core::sc_get_time_resolution().to_seconds();
  advance(now);
  // Retire finished flows (their callbacks may start new ones), activate ready ones.
  std::vector<std::function<void()>> finished;
  for (size_t i = 0; i < flows_.size();) {
    Flow& f = flows_[i];
    const bool empty = f.remaining <= kEpsilonBytes ||
                       (f.active && f.rate > 0 && f.remaining / f.rate <= 2 * res);
    if ((f.active || f.ready_at <= now + res) && empty) {
      finished.push_back(std::move(f.done));
      flows_.erase(flows_.begin() + static_cast<long>(i));
      continue;
    }
    if (!f.active && f.ready_at <= now + res) f.active = true;
    ++i;
  }
  assign_rates();
  for (auto& cb : finished)
    if (cb) cb();
  double next = std::numeric_limits<double>::infinity();
  for (const auto& f : flows_) {
    if (f.active)
      next = std::min(next, f.rate > 0 ? f.remaining / f.rate : next);
    else
      next = std::min(next, f.ready_at - now);
  }
  wake_.cancel();
  if (next < std::numeric_limits<double>::infinity())
    wake_.notify(sc_time(std::max(next, res), SC_SEC));
}

}  // namespace orrery
