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
//
// Prefill split SP -> TP -> SP (CloudMatrix-Infer, arXiv 2506.12708, DeepSeek-R1 prefill on
// CloudMatrix384; `parallel.attention: sp_tp_sp`) over an attention group of g data-parallel
// ranks, each holding its own T tokens (B sequences of S):
//   stage 1 (sequence parallel)  c_q = RMSNorm(x W_DQ), [c_kv, k_r] = x W_DKV, c_kv = RMSNorm(c_kv)
//                                on the rank's own T tokens, every weight in full
//   all-gather                   [c_q, c_kv, k_r] of the group's g*T tokens:
//                                output g*T*(r_q + r_kv + d_r) values (bf16), (g-1)/g of it received
//   stage 2 (tensor parallel)    q_b and kv_b column-split by heads (h/g heads per rank) over all
//                                g*T tokens; RoPE; causal attention of g*B sequences, h/g heads
//   all-to-all                   the rank's g*T x (h/g) x d_v outputs, S = T*h*d_v values (bf16):
//                                S/g to each peer, its own tokens (all heads) back
//   stage 3 (sequence parallel)  o = o W_O on the rank's T tokens, W_O in full
// Per rank, the GEMM and attention FLOPs equal the dp layout's (g*T tokens x h/g heads =
// T x h), and W_UQ and W_UKV are held 1/g per rank. What it adds: the two transfers, and
// vector work repeated on every rank of the group (RoPE of the shared k_r, the W8A8 quantise of
// the gathered latents). What it buys: attention work that no longer follows each rank's own
// prompt lengths (long prompts spread over the group), and 1/g of the up-projection weights.
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
/// Weights the sp_tp_sp layout splits over its attention group: W_UQ (q_b, r_q x h*(d_n + d_r))
/// and W_UKV (kv_b, r_kv x h*(d_n + d_v)).
[[nodiscard]] double mla_head_split_weights(const ModelSpec& m);
/// Values cached per token per layer: kv_lora_rank + qk_rope_head_dim (576).
[[nodiscard]] double mla_cache_width(const MlaSpec& a);

}  // namespace orrery::transformer
