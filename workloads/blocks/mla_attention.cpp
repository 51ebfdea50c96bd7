#include "workloads/blocks/mla_attention.h"

#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// MLA widths of one tensor-parallel rank: h/tp heads, the latent widths in full.
struct MlaDims {
  double hl;    // heads on this rank: h / tp
  double rq;    // q_lora_rank (0: no query compression)
  double rkv;   // kv_lora_rank
  double dn;    // qk_nope_head_dim
  double dr;    // qk_rope_head_dim
  double dv;    // v_head_dim
  [[nodiscard]] double dqk() const { return dn + dr; }
};

/// Ranks that split the heads: tp, or the attention group of the sp_tp_sp layout (tp = 1 there).
double head_ways(const BlockContext& c) {
  const ParallelSpec& par = c.w.parallel;
  return par.attention == AttentionLayout::sp_tp_sp ? double(par.attention_group) : c.tp.ways();
}

MlaDims mla_dims(const BlockContext& c, const Dims& x) {
  const MlaSpec& a = c.m.mla;
  return {x.h / head_ways(c), double(a.q_lora_rank), double(a.kv_lora_rank),
          double(a.qk_nope_head_dim), double(a.qk_rope_head_dim), double(a.v_head_dim)};
}

/// RMSNorm of a latent (T x width, act dtype): y = x / sqrt(mean(x^2) + eps) * g.
/// One kernel that reads the row twice (sum of squares, then scale) and writes it once;
/// backward reads dy and x, writes dx, and reduces dg (2 kernels).
/// Local to MLA until the Llama-family RMSNorm op lands in ops.cpp (to be unified at merge).
Step mla_rmsnorm(const BlockContext& c, const std::string& name, double T, double width) {
  const double elems = T * width;
  Step s{with_modules(row_reduce(make_vector(name, "rmsnorm", elems, 3 * c.ab, 4, c.n.act),
                                 RowReduce::norm, T, width), 1), {}};
  s.bwd.push_back(with_nodes(make_vector(name + ".bwd", "rmsnorm_bwd", elems, 5 * c.ab, 8, c.n.act, 2), 3));
  return s;
}

/// RoPE on the rope parts: q_r (T x hl x d_r) and the shared k_r (T x d_r), as the NeoX
/// rotary op: rotate_half (cat), two muls and an add, ~10 element passes in eager PyTorch.
Step mla_rope(const BlockContext& c, const std::string& p, double T, const MlaDims& m) {
  const double rot = T * (m.hl * m.dr + m.dr);
  return {make_vector(p + ".attn.rope", "rotary", rot, 10 * c.ab, 3, c.n.act, 10),
          {with_nodes(make_vector(p + ".attn.rope.bwd", "rotary", rot, 10 * c.ab, 3, c.n.act, 10), 10)}};
}

/// Query path: q_a (d -> r_q), q_norm, q_b (r_q -> hl*(d_n + d_r)); or q (d -> hl*d_qk).
void query_projection(const BlockContext& c, Steps& prog, const std::string& p, double T,
                      double d, const MlaDims& m, bool first_forward) {
  if (m.rq > 0) {
    // q_a is replicated over tp: every rank projects the whole latent.
    linear(c, prog, p + ".attn.q_a", T, d, m.rq, false, true, first_forward);
    prog.push_back(mla_rmsnorm(c, p + ".attn.q_norm", T, m.rq));
    linear(c, prog, p + ".attn.q_b", T, m.rq, m.hl * m.dqk(), false, false, first_forward);
  } else {
    linear(c, prog, p + ".attn.q", T, d, m.hl * m.dqk(), false, true, first_forward);
  }
}

/// Latent path: kv_a (d -> r_kv + d_r, replicated over tp), RMSNorm on the r_kv part.
void latent_projection(const BlockContext& c, Steps& prog, const std::string& p, double T,
                       double d, const MlaDims& m, bool first_forward) {
  linear(c, prog, p + ".attn.kv_a", T, d, m.rkv + m.dr, false, true, first_forward);
  prog.push_back(mla_rmsnorm(c, p + ".attn.kv_norm", T, m.rkv));
}

/// Prefill / training: decompress K and V with kv_b, assemble q = [q_n, q_r] and
/// k = [k_n, broadcast k_r] (two copies of T x hl x d_qk), causal flash attention with
/// d_qk = d_n + d_r and d_v over hl heads.
void naive_attention(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                     const MlaDims& m, bool first_forward) {
  const double T = x.T;
  linear(c, prog, p + ".attn.kv_b", T, m.rkv, m.hl * (m.dn + m.dv), false, false, first_forward);
  prog.push_back(mla_rope(c, p, T, m));
  prog.push_back(copy(c, p + ".attn.qk_assemble", 2 * T * m.hl * m.dqk(), 2 * c.ab));
  AttentionShape a;
  a.batch = x.B;
  a.heads = m.hl;
  a.head_dim = m.dqk();
  a.v_head_dim = m.dv;
  a.q_len = x.S;
  a.kv_len = x.S;
  a.causal = true;
  Step attn{with_modules(make_attention(p + ".attn.sdpa", a, c.n.attention), 1), {}};
  a.backward = true;
  attn.bwd.push_back(with_nodes(make_attention(p + ".attn.sdpa.bwd", a, c.n.attention), 8));
  prog.push_back(std::move(attn));
}

/// Decode: append the new token's [c_kv, k_r] to the latent cache. graph (static cache):
/// writes B x 576 values in place; eager (HF DynamicCache): torch.cat copies the cache.
Step latent_cache_update(const BlockContext& c, const std::string& p, const Dims& x,
                         const MlaDims& m, double kv_len) {
  const double per = x.T * (m.rkv + m.dr) * c.ab;  // T = B (x drafts + 1 with MTP)
  const double bytes = c.w.framework == Framework::eager ? per * (kv_len - 1 + kv_len) : per;
  return {cold(make_vector(p + ".attn.kv_update", "kv_cache", 1, bytes, 0, c.n.act, 1)), {}};
}

/// A per-head batched GEMM with a weight operand (W_UK or W_UV): batch hl, T x k times
/// k x n. Inference only (decode), so no backward ops.
Step absorbed_gemm(const BlockContext& c, const std::string& name, double T, double k, double n,
                   double heads) {
  return {cold(make_gemm(name, T, n, k, c.n.matmul, heads)), {}};
}

/// Decode, absorbed form: q_lat = q_n W_UK, MQA over the latent cache (one kv head of
/// d_qk = r_kv + d_r = 576, values its r_kv = 512 part, read once), o = o_lat W_UV.
void absorbed_attention(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                        const MlaDims& m, double kv_len) {
  const double T = x.T;  // B: one token per sequence (x drafts + 1 with MTP)
  prog.push_back(mla_rope(c, p, T, m));
  prog.push_back(latent_cache_update(c, p, x, m, kv_len));
  prog.push_back(absorbed_gemm(c, p + ".attn.w_uk", T, m.dn, m.rkv, m.hl));
  AttentionShape a;
  a.batch = x.B;
  a.heads = m.hl;
  a.kv_heads = 1;
  a.head_dim = m.rkv + m.dr;
  a.v_head_dim = m.rkv;
  a.v_in_k = true;
  a.q_len = x.S;
  a.kv_len = kv_len;
  a.causal = false;
  Step attn{with_modules(make_attention(p + ".attn.sdpa", a, c.n.attention), 1), {}};
  attn.fwd.cold = true;  // streams the whole latent cache
  prog.push_back(std::move(attn));
  prog.push_back(absorbed_gemm(c, p + ".attn.w_uv", T, m.rkv, m.dv, m.hl));
}

/// CloudMatrix-Infer's prefill split over an attention group of g ranks, each holding its own
/// T tokens (B sequences of S); see the header. Stage 1 and 3 are sequence parallel (own
/// tokens), stage 2 tensor parallel (h/g heads over the group's g*T tokens).
void sp_tp_sp_attention(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                        const MlaDims& m, bool first_forward) {
  const double g = head_ways(c), T = x.T, d = x.d;
  // Stage 1 (SP): the down-projections and their norms on this rank's tokens.
  linear(c, prog, p + ".attn.q_a", T, d, m.rq, false, true, first_forward);
  prog.push_back(mla_rmsnorm(c, p + ".attn.q_norm", T, m.rq));
  latent_projection(c, prog, p, T, d, m, first_forward);
  // All-gather of [c_q, c_kv, k_r] (bf16) over the group: output g*T*(r_q + r_kv + d_r)*ab.
  const double latent = m.rq + m.rkv + m.dr;
  prog.push_back({make_comm(p + ".attn.latent_all_gather", CommKind::AllGather, g * T * latent * c.ab,
                            CommGroup::Attention), {}});
  // Stage 2 (TP): the group's g*B sequences, h/g heads: q_b, then kv_b, RoPE and attention.
  Dims all = x;
  all.B = g * x.B;
  all.T = g * T;
  linear(c, prog, p + ".attn.q_b", all.T, m.rq, m.hl * m.dqk(), false, false, first_forward);
  naive_attention(c, prog, p, all, m, first_forward);
  // All-to-all: each rank holds g*T x h/g x d_v outputs (S = T*h*d_v*ab) and sends every peer
  // its T tokens' share, S/g; it receives its own tokens for all heads.
  prog.push_back({make_comm(p + ".attn.heads_all_to_all", CommKind::AllToAll, all.T * m.hl * m.dv * c.ab,
                            CommGroup::Attention), {}});
  // Stage 3 (SP): all heads of this rank's tokens through the output projection.
  prog.push_back(copy(c, p + ".attn.merge_heads", T * x.h * m.dv, 2 * c.ab));
  linear(c, prog, p + ".attn.o", T, x.h * m.dv, d, false, false, first_forward);
}

}  // namespace

double mla_head_split_weights(const ModelSpec& m) {
  const MlaSpec& a = m.mla;
  const double h = double(m.heads);
  return double(a.q_lora_rank) * h * double(a.qk_nope_head_dim + a.qk_rope_head_dim) +
         double(a.kv_lora_rank) * h * double(a.qk_nope_head_dim + a.v_head_dim);
}

double mla_cache_width(const MlaSpec& a) { return double(a.kv_lora_rank + a.qk_rope_head_dim); }

void mla_attention_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                         const LayerCall& call) {
  const double T = x.T, d = x.d;
  const MlaDims m = mla_dims(c, x);
  if (c.w.parallel.attention == AttentionLayout::sp_tp_sp && !call.decode)
    return sp_tp_sp_attention(c, prog, p, x, m, call.first_forward);
  c.tp.enter(prog, p + ".attn", T, d, c.ab);
  query_projection(c, prog, p, T, d, m, call.first_forward);
  latent_projection(c, prog, p, T, d, m, call.first_forward);
  if (call.decode) absorbed_attention(c, prog, p, x, m, call.kv_len);
  else naive_attention(c, prog, p, x, m, call.first_forward);
  prog.push_back(copy(c, p + ".attn.merge_heads", T * m.hl * m.dv, 2 * c.ab));
  linear(c, prog, p + ".attn.o", T, m.hl * m.dv, d, false, false, call.first_forward);
  c.tp.leave(prog, p + ".attn", T, d, c.ab);
}

std::vector<double> mla_attention_gradients(const ModelSpec& m) {
  const MlaSpec& a = m.mla;
  const double d = double(m.hidden), h = double(m.heads);
  const double rq = double(a.q_lora_rank), rkv = double(a.kv_lora_rank);
  const double dn = double(a.qk_nope_head_dim), dr = double(a.qk_rope_head_dim);
  const double dv = double(a.v_head_dim);
  std::vector<double> t = {h * dv * d,            // o
                           rkv * h * (dn + dv),   // kv_b
                           rkv,                   // kv_norm
                           d * (rkv + dr)};       // kv_a
  if (rq > 0) {
    t.push_back(rq * h * (dn + dr));  // q_b
    t.push_back(rq);                  // q_norm
    t.push_back(d * rq);              // q_a
  } else {
    t.push_back(d * h * (dn + dr));   // q
  }
  return t;
}

}  // namespace orrery::transformer
