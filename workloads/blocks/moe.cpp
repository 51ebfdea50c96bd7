#include "workloads/blocks/moe.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "workloads/builders/graph_builder.h"
#include "workloads/moe/routing.h"

namespace orrery::transformer {

namespace {

constexpr double kScaleSlot = 512;  // bytes: an int8 token's scales, padded (CloudMatrix-Infer)
// FP8 tokens (DeepEP, DeepSeek-V3 §3.3): e4m3 values with one fp32 scale per 1 x 128 tile, so
// a token of hidden d takes d + 4 d / 128 bytes (7,168 + 224 = 7,392 B for DeepSeek-V3).
constexpr double kFp8ScaleTile = 128;

Step forward_only(Op op) { return {std::move(op), {}}; }

/// What a node-forwarded dispatch or combine needs to count the nodes a token reaches.
std::shared_ptr<const CommOp::NodeRouting> node_routing(const MoeSpec& moe, double assignments) {
  CommOp::NodeRouting r;
  r.assignments = assignments;
  r.experts = double(moe.experts);
  r.top_k = double(moe.top_k);
  r.groups = double(moe.groups);
  r.topk_groups = double(moe.topk_groups);
  return std::make_shared<const CommOp::NodeRouting>(r);
}

/// Expert slots that receive at least one assignment when `assignments` fall on `slots`
/// slots at random: slots * (1 - exp(-assignments / slots)) (Poisson occupancy). A grouped
/// GEMM reads only the weights of the experts that got tokens.
double occupied(double slots, double assignments) {
  if (slots <= 0) return 0;
  return std::max(1.0, slots * (1 - std::exp(-assignments / slots)));
}

/// `groups` experts of width f (in one grouped GEMM each way), `rows` rows in all, as the
/// model's MLP: SwiGLU gate+up (d -> 2f), silu(g)*u, down (f -> d); or GELU fc1 (d -> f),
/// GELU, fc2 (f -> d). Fused kernels: the activation reads 2f (or f) and writes f per row.
void expert_mlp(const BlockContext& c, Steps& prog, const std::string& name, double rows,
                double groups, double f, bool input_quantised) {
  const bool swiglu = c.m.mlp == Mlp::swiglu;
  const double d = double(c.m.hidden), ab = c.ab;
  const bool narrow = c.n.matmul == Dtype::int8 || c.n.matmul == Dtype::fp8;
  // W8A8 / FP8: rows not already dispatched as int8 are quantised per token first.
  if (narrow && !input_quantised)
    prog.push_back(forward_only(make_vector(name + ".quant", "quantize", rows * d, ab + 1, 3, c.n.act)));
  // One grouped-GEMM kernel over the rank's active experts (a plain GEMM for one expert).
  auto grouped = [groups](Op op) {
    op.gemm.grouped = groups > 1;
    return op;
  };
  prog.push_back(forward_only(grouped(cold(make_gemm(name + ".gate_up", rows / groups, (swiglu ? 2 : 1) * f, d, c.n.matmul, groups)))));
  prog.push_back(forward_only(swiglu ? make_vector(name + ".act", "swiglu", rows * f, 3 * ab, 5, c.n.act)
                                     : make_vector(name + ".act", "gelu", rows * f, 2 * ab, 12, c.n.act)));
  // W8A8 / FP8: the down projection's input is quantised per token (as in linear()).
  if (narrow)
    prog.push_back(forward_only(make_vector(name + ".down.quant", "quantize", rows * f, ab + 1, 3, c.n.act)));
  prog.push_back(forward_only(grouped(cold(make_gemm(name + ".down", rows / groups, d, f, c.n.matmul, groups)))));
}

}  // namespace

namespace {
MoeLayerLoad route_layer(const BlockContext& c, double tokens, long layer);
}  // namespace

MoeLayerLoad moe_layer_load(const BlockContext& c, double tokens, long layer) {
  auto& slot = c.moe_cache[{layer, tokens}];
  if (!slot) slot = std::make_shared<const MoeLayerLoad>(route_layer(c, tokens, layer));
  return *std::static_pointer_cast<const MoeLayerLoad>(slot);
}

namespace {

MoeLayerLoad route_layer(const BlockContext& c, double tokens, long layer) {
  const MoeSpec& moe = c.m.moe;
  const MoeRouting& r = c.w.moe;
  const long ep = c.w.parallel.ep;
  MoeLayerLoad out;
  out.layer = layer;
  out.tokens = tokens;
  const double group_tokens = tokens * double(ep);
  const std::vector<double> loads = expert_loads(r, moe, group_tokens, layer);
  // Shared experts dispatched to replicas: every token visits one replica once.
  const double shared_load = r.shared_replicas > 0 ? group_tokens / double(r.shared_replicas) : 0.0;
  const ExpertPlacement pl = place_experts(loads, ep, r.redundant_experts, r.shared_replicas, shared_load);
  const size_t busiest = pl.busiest();
  out.max_assignments = pl.max_load();
  out.mean_assignments = pl.mean_load();
  out.active_groups = occupied(double(pl.experts_on_rank[busiest]), out.max_assignments);
  double total = 0;
  for (double l : pl.rank_load) total += l;
  for (double l : pl.rank_load) out.shares.push_back(total > 0 ? l / total : 0.0);
  return out;
}

}  // namespace

std::vector<MoeLayerLoad> moe_loads(const WorkloadSpec& w, int stage) {
  const BlockContext c(w, stage);
  const double seqs = double(w.batch) / double(w.parallel.microbatches);
  // Decode routes every verified position: 1 + MTP drafts tokens per sequence.
  const double tokens = w.phase == Phase::decode ? seqs * double(1 + w.mtp_drafts) : seqs * double(w.seq_len);
  std::vector<MoeLayerLoad> out;
  for (int l = c.stage.l0; l < c.stage.l1; ++l)
    if (w.model.is_moe_layer(l)) out.push_back(moe_layer_load(c, tokens, l));
  return out;
}

void moe_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
               const LayerCall& call, long layer) {
  const MoeSpec& moe = c.m.moe;
  const MoeRouting& r = c.w.moe;
  const Dtype mm = c.n.matmul;
  const double T = x.T, d = x.d, E = double(moe.experts), k = double(moe.top_k), ab = c.ab;
  const double ef = c.tp.shard(double(moe.expert_ffn));
  const bool ep = c.w.parallel.ep > 1;
  const MoeLayerLoad load = moe_layer_load(c, T, layer);
  const std::string q = p + ".moe";
  // Router: logits = x W_g (T x d x E), then sigmoid/softmax scores and (group-limited) top-k
  // in one fused kernel: reads T*E fp32 logits, writes T*k ids and weights (8 bytes each).
  prog.push_back(forward_only(cold(make_gemm(q + ".gate", T, E, d, mm))));
  prog.push_back(forward_only(make_vector(q + ".topk", "moe_topk", T * E, 4 + 8 * k / E, 8, Dtype::fp32)));
  const double dispatched = k + (r.shared_replicas > 0 ? 1.0 : 0.0);  // assignments per token
  // A fused dispatch kernel gathers, quantises and stores the tokens itself (its cost is the
  // plane's fused_* constants, fitted on measured fused calls that include that work).
  const bool fused = ep && r.fused_a2a;
  // Permute: gather each token's row once per chosen expert (reads T*d, writes T*k*d).
  if (!fused)
    prog.push_back(forward_only(make_vector(q + ".permute", "moe_permute", T * dispatched * d, ab + ab / dispatched, 0, c.n.act)));
  if (ep) {
    double slot_bytes = 2 * d;
    if (r.int8_dispatch || r.fp8_dispatch) {
      // Per-token (int8) or per-128-value (fp8) dynamic quantisation: reads bf16, writes one
      // byte per value and the scales.
      if (!fused)
        prog.push_back(forward_only(make_vector(q + ".quant", "quantize", T * dispatched * d, ab + 1, 3, c.n.act)));
      slot_bytes = r.int8_dispatch ? d + kScaleSlot : d + 4 * d / kFp8ScaleTile;
    }
    Op dispatch = make_comm(q + ".dispatch", CommKind::AllToAllV, T * dispatched * slot_bytes, CommGroup::Expert);
    dispatch.comm.shares = std::make_shared<const std::vector<double>>(load.shares);
    if (fused) dispatch.comm.fused = CommOp::Fused::dispatch;
    if (r.hierarchical_a2a) dispatch.comm.node_forward = node_routing(moe, dispatched);
    prog.push_back(forward_only(std::move(dispatch)));
  }
  c.tp.enter(prog, q, T, d, ab);
  // Experts on the busiest rank: one grouped GEMM over its `g` active expert slots, each with
  // m = assignments / g rows: gate+up (d -> 2 ef), SwiGLU, down (ef -> d). Weights: g experts.
  const double rows = ep ? load.max_assignments : T * k;
  const double groups = ep ? load.active_groups : occupied(E, T * k);
  // Rows dispatched as int8 (fp8) arrive quantised for an int8 (fp8) GEMM.
  const bool arrive_int8 = ep && ((r.int8_dispatch && mm == Dtype::int8) || (r.fp8_dispatch && mm == Dtype::fp8));
  expert_mlp(c, prog, q + ".experts", rows, groups, ef, arrive_int8);
  if (moe.shared_experts > 0 && r.shared_replicas == 0)
    expert_mlp(c, prog, q + ".shared", T, 1, ef * double(moe.shared_experts), false);
  c.tp.leave(prog, q, T, d, ab);
  if (ep) {
    // Combine returns each assignment's output row in bf16 to the rank that sent it.
    Op combine = make_comm(q + ".combine", CommKind::AllToAllV, T * dispatched * 2 * d, CommGroup::Expert);
    combine.comm.shares = std::make_shared<const std::vector<double>>(load.shares);
    combine.comm.reverse = true;
    if (fused) combine.comm.fused = CommOp::Fused::combine;
    if (r.hierarchical_a2a) combine.comm.node_forward = node_routing(moe, dispatched);
    prog.push_back(forward_only(std::move(combine)));
  }
  // Un-permute and weighted sum: reads T*k rows and the weights, writes T*d (+ the shared
  // expert's output added in). A fused combine kernel sums the rows as they arrive.
  if (!fused) prog.push_back(forward_only(make_vector(q + ".combine_sum", "moe_unpermute", T * dispatched * d, ab + ab / dispatched, 2, c.n.act)));
  (void)call;
}

}  // namespace orrery::transformer
