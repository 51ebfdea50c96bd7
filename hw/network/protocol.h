// The size ramp of NCCL-style collectives: protocols and channels.
//
// A collective library moves data with one of a few protocols (NCCL: LL, LL128, Simple). Each
// trades a fixed cost for bandwidth: LL has the smallest per-step latency but sends a flag
// with every 4 bytes of payload (half the wire carries data); Simple sends whole buffers at
// full bandwidth but synchronises each step through memory fences, so its per-step latency
// is the largest. The library picks, per collective and size, the protocol with the least
// estimated time (NCCL: src/graph/tuning.cc, ncclTopoTuneModel and its time model):
//
//   T_p(S) = base_p + fill_p + k · (λ + step_p) + W / (e_p · R)
//   fill_p  = min(slice_p, W / (k · C)) / (e_p · R / C)
//
//   k       rounds (steps) of the algorithm; λ its path latency per round
//   W       bytes the busiest sender puts on the network (payload)
//   e_p     the protocol's payload fraction of the wire (Simple 1, LL128 ~0.92, LL 0.5)
//   R       what one rank can send: min(its port capacity, channels × channel_bandwidth)
//   base_p  fixed cost of one collective with protocol p (kernel start, first handshake)
//   step_p  per-step synchronisation cost of protocol p
//   C       channels (parallel rings); each moves W / C, split into slices of slice_p
//   fill_p  pipelining over slices: a slice is forwarded (or copied out) only once it has
//           wholly arrived, so the last one adds one slice time at a channel's rate R / C
//           (NCCL: stepSize x sliceSteps; the slice is smaller when a channel's share of a
//           step is smaller). The pipeline fills once per collective: with several stages
//           (or round by round) the largest stage's fill is charged, once, like base_p.
//
// Small collectives take LL (latency-bound), large ones Simple (bandwidth-bound): busbw
// ramps from latency-bound to R · e_simple as S grows. The flow simulation then runs the
// chosen protocol: every flow carries W / e_p wire bytes, pays k · step_p (+ base_p once)
// on top of its path latency, and the flows out of one endpoint share its channels.
//
// A plane without protocols keeps the plain model (no base or step cost, e = 1).
#pragma once
#include <string>
#include <vector>

namespace orrery {

/// One protocol of a plane (physical constants, see docs/models.md §7.5).
struct Protocol {
  std::string name;          // ll | ll128 | simple
  double base_latency = 0;   // s, once per collective
  double step_latency = 0;   // s, per round (step) of the algorithm
  double efficiency = 1;     // payload fraction of the wire bytes
  double slice = 0;          // bytes, pipelining granularity per channel (0: none)
};

/// The protocols a plane offers, in the order NCCL lists them; the names a plane may use.
[[nodiscard]] const std::vector<std::string>& protocol_names();

/// What one collective costs with one protocol, uncontended (the selection estimate).
struct ProtocolEstimate {
  const Protocol* protocol = nullptr;
  double time = 0;
};

/// One stage of a collective as the estimate sees it: `rounds` k, `latency` λ (path latency
/// of one round), `bytes` W (payload of its busiest sender).
struct RampStage {
  double rounds = 1, latency = 0, bytes = 0;
};

/// fill_p of one stage: min(slice, W / (k C)) / (e_p R / C); 0 without a slice.
[[nodiscard]] double pipeline_fill(const Protocol& p, const RampStage& s, double rate, int channels);

/// The fill charged once for a collective: max over its stages of pipeline_fill.
[[nodiscard]] double collective_fill(const Protocol& p, const std::vector<RampStage>& stages, double rate,
                                     int channels);

/// The protocol with the least estimated time (ties: the first listed), over the stages:
/// T_p = base_p + max_s fill_p,s + Σ_s [k_s (λ_s + step_p) + W_s / (e_p R)], `rate` R in
/// bytes/s, `channels` C (0 counts as 1). Returns {nullptr, the time without protocol costs}
/// when `protocols` is empty.
[[nodiscard]] ProtocolEstimate choose_protocol(const std::vector<Protocol>& protocols,
                                               const std::vector<RampStage>& stages, double rate,
                                               int channels);

}  // namespace orrery
