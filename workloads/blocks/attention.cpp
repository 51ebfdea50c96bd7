#include "workloads/blocks/attention.h"

#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// Rotary on q and k. NeoX: rotate_half (cat), two muls, add, cat with the pass-through part.
/// Llama (apply_rotary_pos_emb, whole head dim): q*cos + rotate_half(q)*sin with
/// rotate_half = cat(-x2, x1): neg, cat, mul, mul, add per tensor; 10 element reads and writes
/// per rotated element, 5 kernels each for q (T*h*hd) and k (T*kvh*hd).
Step rotary(const BlockContext& c, const std::string& p, const Dims& x) {
  const double T = x.T;
  const double rot = x.qw == x.kvw ? c.tp.shard(T * x.qw) * c.m.rotary_fraction * 2
                                   : c.tp.shard(T * (x.qw + x.kvw)) * c.m.rotary_fraction;
  return {make_vector(p + ".attn.rotary", "rotary", rot, 10 * c.ab, 3, c.n.act, 10),
          {with_nodes(make_vector(p + ".attn.rotary.bwd", "rotary", rot, 10 * c.ab, 3, c.n.act, 10), 10)}};
}

/// KV cache update. eager (HF DynamicCache): torch.cat copies the whole cache for K and V.
/// graph (static cache): writes only the new token in place.
Step kv_update(const BlockContext& c, const std::string& p, const Dims& x, double kv_len) {
  // K and V of the new token: B x kvh*hd each (GQA: kvh heads; MHA: d).
  const double per = c.tp.shard(x.T * x.kvw) * c.ab;  // T = B (x drafts + 1 with MTP)
  const double bytes = c.w.framework == Framework::eager ? per * (kv_len - 1 + kv_len) : 2 * per;
  return {cold(make_vector(p + ".attn.kv_update", "kv_cache", 2, bytes, 0, c.n.act, 2)), {}};
}

/// Fused (flash) attention over heads/tp heads; decode has one query per sequence.
Step sdpa(const BlockContext& c, const std::string& p, const Dims& x, const LayerCall& call) {
  AttentionShape a;
  a.batch = x.B;
  a.heads = c.tp.shard(x.h);
  // Grouped-query attention: K/V keep kvh/tp heads, read once per group of query heads
  // (SDPA with enable_gqa / FlashAttention-2 GQA; no repeat_kv copy).
  if (x.kvh != x.h) a.kv_heads = c.tp.shard(x.kvh);
  a.head_dim = x.hd;
  a.q_len = x.S;  // decode: 1, or 1 + drafts verified with multi-token prediction
  a.kv_len = call.decode ? call.kv_len : x.S;
  a.causal = !call.decode;
  // A static (graph) KV cache is read through an attn_mask over its filled positions, which
  // rules out the flash kernel: SDPA runs the memory-efficient one.
  a.masked = call.decode && c.w.framework == Framework::graph;
  Step attn{with_modules(make_attention(p + ".attn.sdpa", a, c.n.attention), 1), {}};
  attn.fwd.cold = call.decode;  // decode streams the whole KV cache
  a.backward = true;
  // The attention node plus split, view and transpose nodes of q, k and v.
  attn.bwd.push_back(with_nodes(make_attention(p + ".attn.sdpa.bwd", a, c.n.attention), 8));
  return attn;
}

}  // namespace

void attention_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const LayerCall& call) {
  const double T = x.T, d = x.d;
  c.tp.enter(prog, p + ".attn", T, d, c.ab);
  if (fused_qkv(c.m)) {
    // GPT-2 c_attn / NeoX query_key_value: one d -> 3d projection with bias.
    linear(c, prog, p + ".attn.qkv", T, d, c.tp.shard(3 * d), true, true, call.first_forward);
  } else {
    // HF LlamaAttention (Mistral, Qwen2): q_proj d -> h*hd, k_proj and v_proj d -> kvh*hd, each
    // a column-parallel nn.Linear whose input autocast casts again; bias only with qkv_bias.
    const bool b = c.m.qkv_bias;
    linear(c, prog, p + ".attn.q_proj", T, d, c.tp.shard(x.qw), b, true, call.first_forward);
    linear(c, prog, p + ".attn.k_proj", T, d, c.tp.shard(x.kvw), b, true, call.first_forward);
    linear(c, prog, p + ".attn.v_proj", T, d, c.tp.shard(x.kvw), b, true, call.first_forward);
  }
  if (c.m.rotary_fraction > 0) prog.push_back(rotary(c, p, x));
  if (call.decode) prog.push_back(kv_update(c, p, x, call.kv_len));
  prog.push_back(sdpa(c, p, x, call));
  prog.push_back(copy(c, p + ".attn.merge_heads", c.tp.shard(T * x.qw), 2 * c.ab));
  if (fused_qkv(c.m)) {
    linear(c, prog, p + ".attn.proj", T, c.tp.shard(d), d, true, false, call.first_forward);
  } else {
    // o_proj: row-parallel h*hd -> d, bias only when the model has linear biases.
    linear(c, prog, p + ".attn.o_proj", T, c.tp.shard(x.qw), d, c.m.bias, false, call.first_forward);
  }
  c.tp.leave(prog, p + ".attn", T, d, c.ab);
}

bool fused_qkv(const ModelSpec& m) { return m.is_gpt_style(); }

std::vector<double> attention_gradients(const ModelSpec& m) {
  const double d = double(m.hidden);
  if (fused_qkv(m)) return {d * d + d, 3 * d * d + 3 * d};
  // Backward order (reverse of registration q, k, v, o): o_proj, v_proj, k_proj, q_proj.
  const double q = double(m.heads) * m.head_dim();
  const double kv = double(m.kv_heads > 0 ? m.kv_heads : m.heads) * m.head_dim();
  const double qb = m.qkv_bias ? 1 : 0;
  return {q * d + (m.bias ? d : 0.0), d * kv + qb * kv, d * kv + qb * kv, d * q + qb * q};
}

}  // namespace orrery::transformer
