#include "sim/run/simulation.h"

#include <fmt/format.h>
#include <systemc>

#include <chrono>
#include <stdexcept>

#include "hw/device_kinds.h"
#include "sim/engine/process_guard.h"

namespace orrery {

struct Simulation::RankModules {
  std::unique_ptr<Device> device;
  std::unique_ptr<HostModule> host;
};

Simulation::Simulation(const DeviceSpec& device, Framework framework,
                       const std::vector<Plane>& planes, const ParallelSpec& parallel,
                       const std::vector<RankPlan>& ranks)
    : plans_(ranks), records_(ranks.size()), network_(!planes.empty()), pipeline_(parallel.pp > 1) {
  if (sc_core::sc_get_status() != sc_core::SC_ELABORATION)
    throw std::logic_error("a Simulation may be built once per process (one SystemC kernel each)");
  // A process that fails stops the kernel and its error is rethrown by run(); SystemC's own
  // "stopped by user" note would only add noise to the message.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  std::vector<int> ids;
  for (const auto& r : plans_) ids.push_back(r.rank);
  hub_ = std::make_unique<CommHub>("comm", parallel, planes, ids);
  // One rank alone keeps the plain module names ("host", "device") it has always had.
  const bool one = plans_.size() == 1 && planes.empty();
  for (size_t i = 0; i < plans_.size(); ++i) {
    OpSource& source = *plans_[i].source;
    records_[i].resize(source.size());
    auto m = std::make_unique<RankModules>();
    const int r = plans_[i].rank;
    m->device = make_device(one ? "device" : fmt::format("device{}", r), device, source, records_[i]);
    m->host = std::make_unique<HostModule>((one ? std::string("host") : fmt::format("host{}", r)).c_str(),
                                           device.host, framework, source, records_[i], *m->device);
    hub_->attach(i, *m->device, source);
    modules_.push_back(std::move(m));
  }
}

Simulation::~Simulation() = default;

SimulationResult Simulation::run() {
  const auto t0 = std::chrono::steady_clock::now();
  sc_core::sc_start();
  if (process_error()) std::rethrow_exception(process_error());
  SimulationResult out;
  out.events = hub_->events();
  for (size_t i = 0; i < plans_.size(); ++i) {
    RankResult rr;
    rr.rank = plans_[i].rank;
    rr.stage = plans_[i].stage;
    rr.source = plans_[i].source;
    rr.records = std::move(records_[i]);
    if (rr.records.size() != rr.source->size() || !rr.source->finished())
      throw std::logic_error(fmt::format("simulation ended before rank {} issued all its ops", rr.rank));
    for (size_t k = 0; k < rr.records.size(); ++k) {
      if (!rr.records[k].done)
        throw std::logic_error(fmt::format("simulation ended with op '{}' of rank {} not done "
                                           "(a receive without its send?)", rr.source->op(k).name, rr.rank));
      rr.makespan = std::max(rr.makespan, rr.records[k].end);
    }
    rr.resources = modules_[i]->device->resources();
    if (network_) rr.resources.engines.push_back("network");
    if (pipeline_) rr.resources.engines.push_back("pipeline wait");
    rr.events = modules_[i]->host->events() + modules_[i]->device->events();
    out.events += rr.events;
    out.makespan = std::max(out.makespan, rr.makespan);
    out.ranks.push_back(std::move(rr));
  }
  out.link_bytes = hub_->link_bytes();
  out.rate_logs = hub_->take_rate_logs();
  out.plane_of_group = hub_->plane_of_group();
  out.flows = hub_->flows();
  out.aggregated = hub_->aggregated();
  out.aggregate_overlaps = hub_->aggregate_overlaps();
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace orrery
