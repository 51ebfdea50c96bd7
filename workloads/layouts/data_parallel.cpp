#include "workloads/layouts/data_parallel.h"

#include "workloads/layouts/zero.h"

namespace orrery::transformer {

void GradientBuckets::fill(GraphBuilder& g, double params, bool reduce, bool flush) {
  if (!reduce || par_.dp == 1) return;
  // Bucket bytes = this rank's shard of the parameters x gradient dtype bytes.
  pending_ += params / tp_ * grad_bytes_;
  if (pending_ <= 0 || (pending_ < par_.bucket_bytes && !flush)) return;
  g.add_side(make_comm("dp.grad_bucket", gradient_collective(par_), pending_, CommGroup::Data),
             kGradientStream);
  pending_ = 0;
}

}  // namespace orrery::transformer
