#include "workloads/layouts/zero.h"

namespace orrery::transformer {

void gather_updated_weights(GraphBuilder& g, const ParallelSpec& par, double weight_bytes) {
  if (zero1(par) && par.dp > 1)
    g.add(make_comm("dp.weights_all_gather", CommKind::AllGather, weight_bytes, CommGroup::Data));
}

}  // namespace orrery::transformer
