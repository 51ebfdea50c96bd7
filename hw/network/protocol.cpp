#include "hw/network/protocol.h"

#include <algorithm>

namespace orrery {

const std::vector<std::string>& protocol_names() {
  static const std::vector<std::string> names = {"ll", "ll128", "simple"};
  return names;
}

double pipeline_fill(const Protocol& p, const RampStage& s, double rate, int channels) {
  if (p.slice <= 0 || s.bytes <= 0) return 0;
  const double c = std::max(1, channels);
  const double slice = std::min(p.slice, s.bytes / (std::max(1.0, s.rounds) * c));
  return slice / (p.efficiency * rate / c);
}

double collective_fill(const Protocol& p, const std::vector<RampStage>& stages, double rate, int channels) {
  double fill = 0;
  for (const auto& s : stages) fill = std::max(fill, pipeline_fill(p, s, rate, channels));
  return fill;
}

ProtocolEstimate choose_protocol(const std::vector<Protocol>& protocols, const std::vector<RampStage>& stages,
                                 double rate, int channels) {
  // T_p = base_p + max_s fill_p,s + Σ_s [k_s (λ_s + step_p) + W_s / (e_p R)]
  // (NCCL tuning.cc: latency + bytes / busBw; the fill is this model's own term.)
  if (protocols.empty()) {
    double t = 0;
    for (const auto& s : stages) t += s.rounds * s.latency + s.bytes / rate;
    return {nullptr, t};
  }
  ProtocolEstimate best;
  for (const auto& p : protocols) {
    double t = p.base_latency + collective_fill(p, stages, rate, channels);
    for (const auto& s : stages) t += s.rounds * (s.latency + p.step_latency) + s.bytes / (p.efficiency * rate);
    if (!best.protocol || t < best.time) best = {&p, t};
  }
  return best;
}

}  // namespace orrery
