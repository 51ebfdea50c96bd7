// Collective operations (NCCL semantics) expanded into point-to-point flows by a named
// algorithm, in one of two forms:
//   rounds  one round after another; a round starts when every flow of the previous one arrived
//   stages  (default) few stages of concurrent flows; a flow that stands for k rounds of the
//           algorithm carries those rounds' bytes and pays k path latencies. Exact when every
//           round of a stage is the same pattern of flows on the same paths (ring); see
//           docs/models.md §8 for when it is an approximation.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"
#include "sim/core/comm.h"

namespace orrery {

struct CollectiveSpec {
  CommKind op = CommKind::AllReduce;  // all_reduce | all_gather | reduce_scatter | broadcast | all_to_all | all_to_all_v | send_recv | read | write
  double bytes = 0;        // nccl-tests "size": the buffer each rank holds (output for all_gather;
                           // all_to_all_v: the sum of `sizes` over the ranks)
  std::vector<int> group;  // device indices, in ring order (node by node for hierarchical)
  std::string algorithm;   // ring | tree | hierarchical | direct | chain | auto
  std::string plane;       // empty: the first plane that carries "collective" traffic
  int local_size = 0;      // ranks per node (consecutive in `group`); 0: the whole group is one node
  std::string expansion = "staged";  // staged | rounds
  std::vector<std::vector<double>> sizes;  // all_to_all_v: bytes from group[i] to group[j]
  // read / write (point to point): `src` issues it, `dst` is the endpoint whose memory is read
  // or written; endpoint names or device indices, resolved against the system's endpoints.
  std::string src, dst;
};

struct FlowSpec {
  int src = 0, dst = 0;
  double bytes = 0;
};
using Round = std::vector<FlowSpec>;

/// Flows that run concurrently; each pays `rounds` times its path latency before its bytes move,
/// plus `extra_latency` (the protocol's step and base costs, set by the size ramp).
struct Stage {
  std::vector<FlowSpec> flows;
  int rounds = 1;
  double extra_latency = 0;
  double channel_rate = 0;  // bytes/s its flows share per sender (the size ramp's channels), 0: none
};

[[nodiscard]] const ParamTable& collective_params();
/// Reads the `collective:` section; `devices` is the system's device count (for `group: all`).
[[nodiscard]] CollectiveSpec read_collective(const YAML::Node& node, const std::string& path,
                                             int devices);

/// The algorithm `auto` resolves to (throws ConfigError if the algorithm does not implement
/// the op). auto: hierarchical for all_reduce when 1 < local_size < n divides n, else the first
/// valid one.
[[nodiscard]] std::string resolve_algorithm(const CollectiveSpec& c);
/// Ranks per node as the algorithms use it: local_size, or the group size when it is 0.
[[nodiscard]] int node_size(const CollectiveSpec& c);

/// Rounds of flows. With n ranks and size S:
///   ring all_reduce      2(n-1) rounds, each rank sends S/n to its ring successor
///   ring all_gather / reduce_scatter   n-1 rounds of S/n
///   tree all_reduce      reduce up then broadcast down a binary tree, pipelined in chunks
///   hierarchical all_reduce  (m ranks per node, N = n/m nodes) intra-node ring reduce-scatter
///                        (m-1 rounds of S/m), inter-node ring all-reduce of each shard among
///                        the ranks of one local index (2(N-1) rounds of S/(mN)), intra-node
///                        ring all-gather (m-1 rounds of S/m)
///   chain broadcast      S split into chunks pipelined along the ring order
///   direct all_to_all    one round: every rank sends S/n to every other rank
///   direct all_to_all_v  one round: rank i sends sizes[i][j] to rank j
///   send_recv            every rank sends S to its ring successor (nccl-tests sendrecv)
[[nodiscard]] std::vector<Round> expand_collective(const CollectiveSpec& c);

/// Stages of concurrent flows (the default expansion). With n ranks, size S, path latency λ:
///   ring all_reduce      one stage: n flows of 2(n-1)/n·S to the successor, 2(n-1) rounds
///   ring all_gather / reduce_scatter   one stage: n flows of (n-1)/n·S, n-1 rounds
///   tree all_reduce      two stages (up, down): n-1 flows of (chunks+depth-1)·S/chunks each
///   hierarchical         three stages: intra (m-1)/m·S over m-1 rounds, inter
///                        2(N-1)/(mN)·S over 2(N-1) rounds, intra (m-1)/m·S over m-1 rounds
///   chain broadcast      one stage: n-1 hops of (chunks+n-2)·S/chunks, chunks+n-2 rounds
///   all_to_all(_v), send_recv   their single round, 1 round
[[nodiscard]] std::vector<Stage> expand_stages(const CollectiveSpec& c);

/// nccl-tests bus-bandwidth factor: busbw = algbw * factor (PERFORMANCE.md of nccl-tests).
/// all_to_all_v uses all_to_all's (n-1)/n with S = the mean bytes per rank.
[[nodiscard]] double bus_factor(CommKind op, int ranks);

}  // namespace orrery
