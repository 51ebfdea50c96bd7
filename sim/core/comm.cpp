#include "sim/core/comm.h"

#include <array>
#include <utility>

namespace orrery {

namespace {
constexpr std::array<std::pair<CommKind, const char*>, 11> kKinds{{
    {CommKind::AllReduce, "all_reduce"},  {CommKind::AllGather, "all_gather"},
    {CommKind::ReduceScatter, "reduce_scatter"}, {CommKind::Broadcast, "broadcast"},
    {CommKind::AllToAll, "all_to_all"},   {CommKind::AllToAllV, "all_to_all_v"},
    {CommKind::SendRecv, "send_recv"},    {CommKind::Send, "send"},
    {CommKind::Recv, "recv"},             {CommKind::Read, "read"},
    {CommKind::Write, "write"},
}};
}  // namespace

const char* comm_kind_name(CommKind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "?";
}

std::optional<CommKind> parse_comm_kind(const std::string& name) {
  for (const auto& [kind, n] : kKinds)
    if (name == n) return kind;
  return std::nullopt;
}

const std::vector<std::string>& collective_kind_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& [kind, name] : kKinds)
      if (kind != CommKind::Send && kind != CommKind::Recv) v.emplace_back(name);
    return v;
  }();
  return names;
}

bool is_point_to_point(CommKind k) { return k == CommKind::Read || k == CommKind::Write; }

const char* comm_group_name(CommGroup g) {
  switch (g) {
    case CommGroup::Tensor: return "tp";
    case CommGroup::Data: return "dp";
    case CommGroup::PipelineNext: return "pp_next";
    case CommGroup::PipelinePrev: return "pp_prev";
    case CommGroup::Expert: return "ep";
    case CommGroup::Attention: return "attn";
  }
  return "?";
}

const char* traffic_class(CommGroup g) {
  switch (g) {
    case CommGroup::Tensor: return "tensor";
    case CommGroup::Data: return "data";
    case CommGroup::Expert: return "expert";
    case CommGroup::Attention: return "tensor";
    default: return "pipeline";
  }
}

}  // namespace orrery
