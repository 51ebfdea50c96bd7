// Collective operations (NCCL semantics) expanded into rounds of point-to-point flows by a
// named algorithm. A round starts when every flow of the previous round has arrived.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"

namespace orrery {

struct CollectiveSpec {
  std::string op;          // all_reduce | all_gather | reduce_scatter | broadcast | all_to_all | send_recv | read | write
  double bytes = 0;        // nccl-tests "size": the buffer each rank holds (output for all_gather)
  std::vector<int> group;  // device indices, in ring order
  std::string algorithm;   // ring | tree | direct | chain | auto
  std::string plane;       // empty: the first plane that carries "collective" traffic
  // read / write (point to point): `src` issues it, `dst` is the endpoint whose memory is read
  // or written; endpoint names or device indices, resolved against the system's endpoints.
  std::string src, dst;
};

/// read and write are point-to-point memory transfers, not collectives over a group.
[[nodiscard]] bool is_point_to_point(const std::string& op);

struct FlowSpec {
  int src = 0, dst = 0;
  double bytes = 0;
};
using Round = std::vector<FlowSpec>;

[[nodiscard]] const ParamTable& collective_params();
/// Reads the `collective:` section; `devices` is the system's device count (for `group: all`).
[[nodiscard]] CollectiveSpec read_collective(const YAML::Node& node, const std::string& path,
                                             int devices);

/// The algorithm `auto` resolves to, and the algorithms valid for an op.
[[nodiscard]] std::string resolve_algorithm(const CollectiveSpec& c);

/// Rounds of flows. With n ranks and size S:
///   ring all_reduce      2(n-1) rounds, each rank sends S/n to its ring successor
///   ring all_gather / reduce_scatter   n-1 rounds of S/n
///   tree all_reduce      reduce up then broadcast down a binary tree, pipelined in chunks
///   chain broadcast      S split into chunks pipelined along the ring order
///   direct all_to_all    one round: every rank sends S/n to every other rank
///   send_recv            every rank sends S to its ring successor (nccl-tests sendrecv)
[[nodiscard]] std::vector<Round> expand_collective(const CollectiveSpec& c);

/// nccl-tests bus-bandwidth factor: busbw = algbw * factor (PERFORMANCE.md of nccl-tests).
[[nodiscard]] double bus_factor(const std::string& op, int ranks);

}  // namespace orrery
