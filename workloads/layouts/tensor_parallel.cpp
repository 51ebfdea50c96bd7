#include "workloads/layouts/tensor_parallel.h"

#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

void TensorParallel::enter(Steps& p, const std::string& name, double T, double d,
                           double bytes_per_elem) const {
  if (size_ == 1) return;
  const double bytes = T * d * bytes_per_elem;
  if (sp_) {
    p.push_back({make_comm(name + ".tp_all_gather", CommKind::AllGather, bytes, CommGroup::Tensor),
                 {make_comm(name + ".tp_reduce_scatter.bwd", CommKind::ReduceScatter, bytes, CommGroup::Tensor)}});
  } else {
    p.push_back({Op{}, {make_comm(name + ".tp_all_reduce.bwd", CommKind::AllReduce, bytes, CommGroup::Tensor)}});
  }
}

void TensorParallel::leave(Steps& p, const std::string& name, double T, double d,
                           double bytes_per_elem) const {
  if (size_ == 1) return;
  const double bytes = T * d * bytes_per_elem;
  if (sp_) {
    p.push_back({make_comm(name + ".tp_reduce_scatter", CommKind::ReduceScatter, bytes, CommGroup::Tensor),
                 {make_comm(name + ".tp_all_gather.bwd", CommKind::AllGather, bytes, CommGroup::Tensor)}});
  } else {
    p.push_back({make_comm(name + ".tp_all_reduce", CommKind::AllReduce, bytes, CommGroup::Tensor), {}});
  }
}

}  // namespace orrery::transformer
