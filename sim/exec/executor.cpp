#include "sim/exec/executor.h"

#include <systemc>

#include <chrono>
#include <stdexcept>

#include "hw/kernel_device.h"

namespace orrery {

SimResult simulate(const DeviceSpec& device, const OpGraph& graph, Framework framework) {
  if (sc_core::sc_get_status() != sc_core::SC_ELABORATION)
    throw std::logic_error("simulate() may run once per process (one SystemC kernel each)");
  SimResult result;
  result.records.resize(boost::num_vertices(graph));
  const auto t0 = std::chrono::steady_clock::now();
  HostModule host("host", device.host, framework, graph, result.records);
  KernelDeviceModule dev("device", device, graph, result.records);
  host.on_launched = [&dev](OpId id) { dev.launched(id); };
  host.kernels_of = [&dev](OpId id) { return dev.kernels(id); };
  dev.on_sync_done = [&host](OpId id) { host.release(id); };
  dev.on_op_done = [&host] { host.device_op_done(); };
  sc_core::sc_start();
  for (size_t i = 0; i < result.records.size(); ++i) {
    if (!result.records[i].done)
      throw std::logic_error("simulation ended with op '" + graph[i].name + "' not done");
    result.makespan = std::max(result.makespan, result.records[i].end);
  }
  result.resources = dev.resources();
  result.events = host.events() + dev.events();
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace orrery
