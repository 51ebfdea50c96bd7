#include "workloads/blocks/attention.h"

#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// NeoX rotary on q and k: rotate_half (cat), two muls, add, cat with the pass-through part.
Step rotary(const BlockContext& c, const std::string& p, double T, double d) {
  const double rot = c.tp.shard(T * d) * c.m.rotary_fraction * 2;
  return {make_vector(p + ".attn.rotary", "rotary", rot, 10 * c.ab, 3, c.n.act, 10),
          {with_nodes(make_vector(p + ".attn.rotary.bwd", "rotary", rot, 10 * c.ab, 3, c.n.act, 10), 10)}};
}

/// KV cache update. eager (HF DynamicCache): torch.cat copies the whole cache for K and V.
/// graph (static cache): writes only the new token in place.
Step kv_update(const BlockContext& c, const std::string& p, const Dims& x, double kv_len) {
  const double per = c.tp.shard(x.B * x.d) * c.ab;
  const double bytes = c.w.framework == Framework::eager ? per * (kv_len - 1 + kv_len) : 2 * per;
  return {cold(make_vector(p + ".attn.kv_update", "kv_cache", 2, bytes, 0, c.n.act, 2)), {}};
}

/// Fused (flash) attention over heads/tp heads; decode has one query per sequence.
Step sdpa(const BlockContext& c, const std::string& p, const Dims& x, const LayerCall& call) {
  AttentionShape a;
  a.batch = x.B;
  a.heads = c.tp.shard(x.h);
  a.head_dim = x.hd;
  a.q_len = call.decode ? 1 : x.S;
  a.kv_len = call.decode ? call.kv_len : x.S;
  a.causal = !call.decode;
  Step attn{with_modules(make_attention(p + ".attn.sdpa", a, c.n.matmul), 1), {}};
  attn.fwd.cold = call.decode;  // decode streams the whole KV cache
  a.backward = true;
  // The attention node plus split, view and transpose nodes of q, k and v.
  attn.bwd.push_back(with_nodes(make_attention(p + ".attn.sdpa.bwd", a, c.n.matmul), 8));
  return attn;
}

}  // namespace

void attention_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call) {
  const double T = x.T, d = x.d;
  c.tp.enter(prog, p + ".attn", T, d, c.ab);
  linear(c, prog, p + ".attn.qkv", T, d, c.tp.shard(3 * d), true, true, call.first_forward);
  if (c.m.rotary_fraction > 0) prog.push_back(rotary(c, p, T, d));
  if (call.decode) prog.push_back(kv_update(c, p, x, call.kv_len));
  prog.push_back(sdpa(c, p, x, call));
  prog.push_back(copy(c, p + ".attn.merge_heads", c.tp.shard(T * d), 2 * c.ab));
  linear(c, prog, p + ".attn.proj", T, c.tp.shard(d), d, true, false, call.first_forward);
  c.tp.leave(prog, p + ".attn", T, d, c.ab);
}

std::vector<double> attention_gradients(const ModelSpec& m) {
  const double d = double(m.hidden);
  return {d * d + d, 3 * d * d + 3 * d};
}

}  // namespace orrery::transformer
