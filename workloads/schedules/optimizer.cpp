#include "workloads/schedules/optimizer.h"

#include <algorithm>
#include <cmath>

#include "workloads/builders/graph_builder.h"
#include "workloads/layouts/zero.h"

namespace orrery::transformer {

Steps optimizer_steps(const BlockContext& c) {
  Steps p;
  const PipelineStage& st = c.stage;
  const double stage_params = c.m.stage_params(st.layers(), st.first(), st.last());
  const double params = stage_params / c.tp.ways() / optimizer_shards(c.w.parallel);
  const double tensors = static_cast<double>(st.layers()) * 12 + 4;
  // PyTorch multi_tensor_apply: up to 320 blocks of 65,536 elements or 36 tensors per launch.
  const int launches = static_cast<int>(std::max(std::ceil(tensors / 36.0),
                                                 std::ceil(params / (320.0 * 65536.0))));
  const double wb = c.wb;
  if (c.w.optimizer == Optimizer::adamw) {
    // Fused AdamW: reads param, grad, exp_avg, exp_avg_sq (fp32); writes param and both moments.
    p.push_back({cold(make_vector("optimizer.adamw", "optimizer", params, 3 * wb + 16, 12,
                                  Dtype::fp32, launches)), {}});
  } else if (c.w.optimizer == Optimizer::sgd) {
    // SGD with momentum: reads param, grad, momentum; writes param and momentum.
    p.push_back({cold(make_vector("optimizer.sgd", "optimizer", params, 3 * wb + 8, 4, Dtype::fp32,
                                  launches)), {}});
  }
  return p;
}

}  // namespace orrery::transformer
