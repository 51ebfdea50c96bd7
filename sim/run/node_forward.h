// Node-forwarded (hierarchical) all-to-all-v: how many bytes an MoE dispatch or combine puts on
// each of two planes when it goes through one member per node, as DeepEP's normal (throughput)
// kernels do (docs/models.md §5.7, "Hierarchical dispatch and combine").
//
// Dispatch, for a sender i in node ν and every other node j of the expert group:
//   scale-out (across nodes):  i → f_j, the member of node j with i's local index,
//                              B · q_j          (each token once per node it has an expert on)
//   scale-up (inside node j):  f_j → r, every other member r of node j,
//                              b · share_r      (the rows f_j forwards for i)
// and inside its own node, i → r directly on the scale-up plane: b · share_r. Here b = the
// sender's bytes (T tokens x a rows x row bytes), B = b / a (one row per token), share_r the
// part of all assignments that r's experts receive, and q_j the probability that a token has at
// least one of its experts on node j (node_touch_probability). A combine is the transpose: rows
// are summed inside node j first and return once per node.
#pragma once
#include <vector>

#include "sim/core/op.h"

namespace orrery {

/// Probability that a token has at least one of its experts on a node whose experts receive the
/// share P of all assignments, in an expert group of `nodes` nodes:
///   q = 1 - Π_{i<k} (E(1-P) - i) / (E - i)                       (k experts of E, no repeat)
/// exact when the E experts are equally popular (the node then holds P·E of them); for skewed
/// routing the node counts as P·E experts of average popularity. With group-limited routing
/// (M < G groups per token) whose groups lie whole on the nodes (G a multiple of `nodes`),
/// a token reaches only the nodes of its M groups:
///   q = min(q, 1 - Π_{i<M} (G(1-P) - i) / (G - i))
/// taking every chosen group to hold at least one of the token's experts (DeepSeek-V3 scores a
/// group by its two best experts, so a chosen group usually holds two or more of the eight).
[[nodiscard]] double node_touch_probability(double share, int nodes, const CommOp::NodeRouting& r);

struct NodeForwardTraffic {
  std::vector<std::vector<double>> scale_out;  // [i][j]: bytes from member i to member j
  std::vector<std::vector<double>> scale_up;
};

/// The two planes' traffic matrices of `op` (an all_to_all_v with shares and node_forward)
/// among a group whose member i sits in node `node[i]` (any labels). Every node must hold the
/// same number of members (ConfigError otherwise: the forwarding member would be missing).
[[nodiscard]] NodeForwardTraffic node_forward_traffic(const CommOp& op, const std::vector<int>& node);

}  // namespace orrery
