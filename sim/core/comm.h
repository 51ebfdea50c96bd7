// Communication vocabulary shared by workloads, the network and the engine: what a transfer
// does (CommKind) and which group of ranks it runs over (CommGroup). Kinds are an enum, never
// strings compared in several places; names convert only at the config and report edges.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace orrery {

enum class CommKind {
  AllReduce, AllGather, ReduceScatter, Broadcast, AllToAll, AllToAllV, SendRecv,
  Send, Recv,    // a pipeline transfer's two halves, paired by (direction, tag)
  Read, Write,   // point-to-point memory transfers (load/store fabrics such as UB)
};
[[nodiscard]] const char* comm_kind_name(CommKind k);
/// The kind named `name` (as in YAML and reports), or nothing.
[[nodiscard]] std::optional<CommKind> parse_comm_kind(const std::string& name);
/// Names of the kinds a user can ask for as a collective workload.
[[nodiscard]] const std::vector<std::string>& collective_kind_names();
/// read and write are point-to-point memory transfers, not collectives over a group.
[[nodiscard]] bool is_point_to_point(CommKind k);

/// The groups a parallel workload's transfers run over. Tensor: the tp ranks of one (d, p);
/// data: the dp ranks of one (t, p); expert: ep consecutive data-parallel ranks of one (t, p).
/// Pipeline peers: the rank of the next or previous stage with the same (t, d). Attention: the
/// attention_group consecutive data-parallel ranks of one (t, p) that split MLA's heads in the
/// sp_tp_sp prefill layout (its transfers are tensor-parallel traffic).
enum class CommGroup { Tensor, Data, PipelineNext, PipelinePrev, Expert, Attention };
[[nodiscard]] const char* comm_group_name(CommGroup g);
/// The traffic class a group's transfers carry (plane selection): tensor, data, pipeline.
[[nodiscard]] const char* traffic_class(CommGroup g);

}  // namespace orrery
