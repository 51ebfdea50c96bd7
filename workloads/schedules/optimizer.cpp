#include "workloads/schedules/optimizer.h"

#include <algorithm>
#include <cmath>

#include "workloads/blocks/attention.h"
#include "workloads/builders/graph_builder.h"
#include "workloads/layouts/zero.h"

namespace orrery::transformer {

namespace {

/// Parameter tensors of one layer: GPT-2 / NeoX 12 (two norms, qkv, proj, fc1, fc2, each with
/// a bias); Llama family: norm weights, q/k/v/o, gate/up/down, and the biases it has.
double layer_tensors(const ModelSpec& m) {
  if (fused_qkv(m)) return 12;
  const bool swiglu = m.mlp == Mlp::swiglu;
  return (m.norm == Norm::rmsnorm ? 2 : 4) + 4 + (m.qkv_bias ? 3 : 0) + (m.bias ? 1 : 0) +
         (swiglu ? 3 : 2) * (m.bias ? 2 : 1);
}

/// Tensors outside the layers: token (and position) embeddings, final norm, untied LM head.
double outer_tensors(const ModelSpec& m) {
  if (fused_qkv(m)) return 4;
  return 1 + (m.learned_positions ? 1 : 0) + (m.norm == Norm::rmsnorm ? 1 : 2) +
         (m.tied_embeddings ? 0 : 1);
}

}  // namespace

Steps optimizer_steps(const BlockContext& c) {
  Steps p;
  const PipelineStage& st = c.stage;
  const double stage_params = c.m.stage_params(st.layers(), st.first(), st.last());
  const double params = stage_params / c.tp.ways() / optimizer_shards(c.w.parallel);
  const double tensors = static_cast<double>(st.layers()) * layer_tensors(c.m) + outer_tensors(c.m);
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
