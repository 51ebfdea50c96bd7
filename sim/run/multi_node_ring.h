// NCCL's ring across nodes (docs/models.md §7.6).
//
// A ring collective (all-reduce, all-gather, reduce-scatter) whose group spans several nodes
// does not send every hop through the network between nodes: NCCL builds one ring per NIC,
// each of which visits every GPU of a node over the node's own fabric (NVLink) and crosses to
// the next node through its own NIC, into the NIC of the same index there. With m GPUs per node
// (one NIC each) there are C = m rings, each carrying 1/C of the data:
//
//   ring c, node a:  L_a[c] -> L_a[c+1] -> ... -> L_a[c+m-1]  (m-1 hops on the scale-up plane)
//                    L_a[c] -> L_{a+1}[c]                      (1 hop on the scale-out plane)
//   (L_a: the group's members on node a, in group order; indices mod m, nodes mod N. The last
//   GPU hands the data to GPU c's NIC over the node's fabric, NCCL's PXN; that short hop is
//   not counted.)
//
// Every hop carries the ring's bytes per rank / C: 2(n-1)/n · S / C for all-reduce, (n-1)/n ·
// S / C for all-gather and reduce-scatter. So each NIC carries 1/m of what a flat ring would
// put through it, and busbw reaches m NICs' worth (8 x 400 Gb/s on a DGX H100) instead of one.
//
// Latency, as NCCL's tuner counts it (src/graph/tuning.cc, ring): a chunk crosses k steps,
// k_out of them between nodes (all-reduce k = 2(n-1), k_out = 2(N-1); all-gather and
// reduce-scatter k = n-1, k_out = N-1):
//
//   L_p = base_p + fill_p + (k - k_out)(λ_up + step_up,p) + k_out (λ_out + step_out,p)
//   T_p = L_p + max(W_up / (e_p R_up), W_out / (e_p R_out))
//
// p the protocol (the scale-up plane's table; step_out,p from the scale-out plane's protocol of
// the same name, 0 if it declares none), λ the planes' path latencies, W the bytes of the
// busiest sender on each plane, R its rate (port capacity, and on the scale-up plane its
// channels). The protocol with the least T_p runs; every flow then waits L_p and moves its
// bytes / e_p, the two planes' flows at the same time.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "hw/network/plane.h"
#include "sim/core/comm.h"
#include "sim/core/ids.h"
#include "workloads/collective.h"

namespace orrery {

/// What one plane of the ring offers: its slowest path λ, its busiest sender's rate R (port,
/// capped by its channels), and the channels.
struct RingSide {
  double latency = 0, rate = 0, channel_rate = 0;
  int channels = 0;
};

/// The part of a multi-node ring that depends on the group only (computed once per group).
struct MultiNodeRingLayout {
  PlaneId up, out;
  int nodes = 0, per_node = 0;
  std::vector<FlowSpec> up_flows, out_flows;  // bytes counted in ring hops (m-1, or 1)
  RingSide up_side, out_side;
};

struct MultiNodeRing {
  PlaneId up, out;      // inside a node (NVLink), between nodes (InfiniBand)
  Stage up_stage;       // m-1 hops per node and ring, on `up`; every flow waits L_p first
  Stage out_stage;      // one hop per node and ring, on `out`
  std::string protocol; // "" when neither plane declares protocols
  int steps = 0;        // k: the steps a chunk crosses (2(n-1) for all-reduce, n-1 otherwise)
};

/// The multi-node ring for `op` (all_reduce, all_gather or reduce_scatter) of `bytes` (the
/// nccl-tests size) among `group` whose collective plane is `out`, or nothing when it does not
/// apply: another op, a group inside one node, nodes holding different numbers of members (or
/// one each), or no other plane carrying `traffic` (a traffic class; a plane without a traffic
/// list carries all) that joins the members of each node and is faster than `out` (its fastest
/// link x efficiency). Among several, the fastest.
[[nodiscard]] std::optional<MultiNodeRing> multi_node_ring(const std::vector<Plane>& planes, PlaneId out,
                                                           const std::string& traffic, CommKind op,
                                                           double bytes, const std::vector<int>& group);

/// The plane the communication library uses inside the nodes of a group that spans several
/// (at least one holding two or more members): another plane carrying `traffic` that joins the
/// members of every node but not nodes to each other, and is faster than `out` (fastest link x
/// efficiency); the fastest of those. Nothing otherwise.
[[nodiscard]] std::optional<PlaneId> scale_up_plane(const std::vector<Plane>& planes, PlaneId out,
                                                    const std::string& traffic, const std::vector<int>& group);

/// The group-only part of the above (nothing when it does not apply), and the ring for one op
/// and size from it (nothing for an op other than all_reduce, all_gather, reduce_scatter).
[[nodiscard]] std::optional<MultiNodeRingLayout> multi_node_ring_layout(const std::vector<Plane>& planes,
                                                                       PlaneId out, const std::string& traffic,
                                                                       const std::vector<int>& group);
[[nodiscard]] std::optional<MultiNodeRing> multi_node_ring(const MultiNodeRingLayout& layout,
                                                           const std::vector<Plane>& planes, CommKind op,
                                                           double bytes);

}  // namespace orrery
