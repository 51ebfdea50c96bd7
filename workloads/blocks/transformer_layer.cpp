#include "workloads/blocks/transformer_layer.h"

#include <fmt/format.h>

#include <iterator>
#include <stdexcept>

#include "workloads/blocks/mla_attention.h"
#include "workloads/blocks/mlp.h"
#include "workloads/blocks/moe.h"
#include "workloads/blocks/ops.h"

namespace orrery::transformer {

namespace {

/// The layer's feed-forward block: the dense MLP, or the mixture of experts in the model's
/// MoE layers.
void feed_forward(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                  const LayerCall& call, int layer) {
  if (c.m.is_moe_layer(layer)) moe_block(c, prog, p, x, call, layer);
  else dense_mlp_block(c, prog, p, x, call);
}

std::vector<double> feed_forward_gradients(const ModelSpec& m) { return dense_mlp_gradients(m); }

}  // namespace

namespace {

/// The layer's steps; `split` gets the index of the first feed-forward step.
Steps build_layer(const BlockContext& c, int l, const Dims& x, const LayerCall& call,
                  const std::string& prefix, size_t& split) {
  const std::string p = prefix.empty() ? fmt::format("h{}", l) : prefix;
  // Sequence parallel: norms, dropout and residual adds see T/tp tokens.
  const double d = x.d, Tn = c.tp.norm_tokens(x.T);
  const bool drop = c.dropout();
  Steps prog;
  prog.push_back(norm(c, p + ".ln_1", Tn, d));
  // Hugging Face also calls the block, attention-output-dropout, MLP and MLP-dropout modules
  // (dropout modules are called even when they are identities in eval mode).
  const size_t block_start = prog.size() - 1;
  if (c.m.mla.enabled()) mla_attention_block(c, prog, p, x, call);
  else attention_block(c, prog, p, x, call);
  if (drop) prog.push_back(dropout(c, p + ".attn.dropout", Tn * d));
  if (!c.m.parallel_residual) prog.push_back(residual_add(c, p + ".add_1", Tn, d, 1));
  prog.push_back(norm(c, p + ".ln_2", Tn, d));
  split = prog.size();
  feed_forward(c, prog, p, x, call, l);
  if (drop) prog.push_back(dropout(c, p + ".mlp.dropout", Tn * d));
  // Llama family: the decoder layer and the MLP module (no dropout modules; sdpa stands for
  // self_attn, the silu op for act_fn).
  if (c.hf_model()) prog[block_start].fwd.modules += fused_qkv(c.m) ? (drop ? 2 : 4) : 2;
  // GPT-2: second residual add. NeoX parallel residual: x + attn + mlp (two adds).
  prog.push_back(residual_add(c, p + ".add_2", Tn, d, c.m.parallel_residual ? 2 : 1));
  return prog;
}

}  // namespace

Steps transformer_layer(const BlockContext& c, int l, const Dims& x, const LayerCall& call,
                        const std::string& prefix) {
  size_t split = 0;
  return build_layer(c, l, x, call, prefix, split);
}

LayerHalves transformer_layer_halves(const BlockContext& c, int l, const Dims& x, const LayerCall& call) {
  if (c.m.parallel_residual) throw std::logic_error("parallel-residual layers have no sequential halves");
  size_t split = 0;
  Steps all = build_layer(c, l, x, call, "", split);
  const auto cut = all.begin() + static_cast<long>(split);
  return {Steps(std::make_move_iterator(all.begin()), std::make_move_iterator(cut)),
          Steps(std::make_move_iterator(cut), std::make_move_iterator(all.end()))};
}

std::vector<double> layer_gradients(const ModelSpec& m) {
  std::vector<double> t = feed_forward_gradients(m);
  for (double a : m.mla.enabled() ? mla_attention_gradients(m) : attention_gradients(m)) t.push_back(a);
  // ln_1 and ln_2: gamma and beta (LayerNorm) or the weight alone (RMSNorm).
  t.push_back((m.norm == Norm::rmsnorm ? 2 : 4) * static_cast<double>(m.hidden));
  return t;
}

}  // namespace orrery::transformer
