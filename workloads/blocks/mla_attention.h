// Multi-head latent attention (DeepSeek-V2/V3) as operators.
// Sources: DeepSeek-V2, arXiv 2405.04434, section 2.1 (equations 9-19) and appendix C
// (absorbing W_UK into the query and W_UV into the output); DeepSeek-V3, arXiv 2412.19437,
// section 2.1.1. Notation (DeepSeek-V3 config): d = 7168, h = 128 heads, q_lora_rank r_q = 1536,
// kv_lora_rank r_kv = 512, qk_nope_head_dim d_n = 128, qk_rope_head_dim d_r = 64,
// v_head_dim d_v = 128.
//
// Prefill and training ("naive" form, as Hugging Face's DeepseekV3Attention and vLLM's MLA
// prefill run it), T tokens:
//   c_q  = RMSNorm(x W_DQ)                x: T x d,  W_DQ (q_a_proj):  d x r_q
//   q    = c_q W_UQ                       W_UQ (q_b_proj): r_q x h*(d_n + d_r)
//   [c_kv, k_r] = x W_DKV                 W_DKV (kv_a_proj_with_mqa): d x (r_kv + d_r)
//   c_kv = RMSNorm(c_kv)
//   [k_n, v] = c_kv W_UKV                 W_UKV (kv_b_proj): r_kv x h*(d_n + d_v)
//   q_r, k_r = RoPE(q_r), RoPE(k_r)       k_r: one d_r vector per token shared by all heads
//   o    = softmax(q k^T / sqrt(d_n + d_r)) v   causal, h heads, d_qk = 192, d_v = 128
//   y    = o W_O                          W_O (o_proj): h*d_v x d
//
// Decode (one new token per sequence, KV length L), absorbed form (DeepSeek-V2 appendix C,
// FlashMLA / vLLM / SGLang): the cache holds c_kv (r_kv) and k_r (d_r) per token per layer,
// r_kv + d_r = 576 values; W_UKV splits per head into W_UK (d_n x r_kv) and W_UV (r_kv x d_v).
//   q_lat = q_n W_UK                      batched GEMM over h heads: (B x d_n) x (d_n x r_kv)
//   s     = q_lat c_kv^T + q_r k_r^T      = [q_lat, q_r] . [c_kv, k_r]^T over 576 dims
//   o_lat = softmax(s) c_kv               (B x h x r_kv); the latent cache is read once for all
//                                         h heads: MQA with one kv head, d_qk 576, d_v 512
//   o     = o_lat W_UV                    batched GEMM over h heads: (B x r_kv) x (r_kv x d_v)
//   y     = o W_O
//   cache bytes read per layer and step = B * L * 576 * bytes
//   attention FLOPs                     = 2 * B * h * L * (576 + 512)
//
// Tensor parallel (Megatron-DeepSeek, vLLM): heads are split over tp — q_b and kv_b are
// column-split by heads, o row-split — while the latent projections q_a and kv_a (and their
// norms) are replicated on every tp rank, and so is the latent cache (every rank's heads read
// all of c_kv and k_r).
#pragma once
#include <string>
#include <vector>

#include "workloads/blocks/attention.h"
#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// Appends the MLA block of layer prefix `p` (e.g. "h3") to `prog`: the naive form for
/// prefill/training, the absorbed form with the latent KV cache for decode.
void mla_attention_block(const BlockContext& c, Steps& prog, const std::string& p, const Dims& x,
                         const LayerCall& call);
/// Parameter tensors of the block in backward order: o, kv_b, kv_norm, kv_a, q_b, q_norm, q_a
/// (without query compression: o, kv_b, kv_norm, kv_a, q). Their sum is the attention share
/// of ModelSpec::layer_params.
[[nodiscard]] std::vector<double> mla_attention_gradients(const ModelSpec& m);
/// Values cached per token per layer: kv_lora_rank + qk_rope_head_dim (576).
[[nodiscard]] double mla_cache_width(const MlaSpec& a);

}  // namespace orrery::transformer
