// Model dimensions (the zoo in workloads/models/*.yaml) and how the framework implements them.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"

namespace orrery {

/// gelu_new: HF's Python tanh-GELU formula, eight element-wise kernels; gelu_tanh / gelu: one
/// fused kernel (nn.GELU).
enum class Activation { gelu_new, gelu_tanh, gelu };

/// Normalisation: LayerNorm (weight and bias) or RMSNorm (weight only; Llama, Mistral, DeepSeek).
enum class Norm { layernorm, rmsnorm };
/// Feed-forward: two matmuls with a GELU between (GPT-2, NeoX), or SwiGLU — gate and up
/// projections, silu(gate) * up, down projection (Llama family, Mixtral, DeepSeek).
enum class Mlp { gelu, swiglu };

/// Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass through low-rank
/// latents; the KV cache holds the kv latent and one shared RoPE key per token.
struct MlaSpec {
  long q_lora_rank = 0;        // 0: queries projected directly from the hidden state
  long kv_lora_rank = 0;       // latent width cached per token (512)
  long qk_nope_head_dim = 0;   // per-head query/key dims without positions (128)
  long qk_rope_head_dim = 0;   // per-head dims with RoPE; the key part is shared by all heads (64)
  long v_head_dim = 0;         // per-head value dim (128)
  [[nodiscard]] bool enabled() const { return kv_lora_rank > 0; }
};

/// Mixture of experts: each MoE layer replaces the dense feed-forward by `experts` SwiGLU
/// experts of width expert_ffn, of which each token uses top_k, plus always-on shared experts.
struct MoeSpec {
  long experts = 0;            // routed experts per MoE layer (0: a dense model)
  long top_k = 0;              // routed experts per token
  long expert_ffn = 0;         // intermediate width of one expert
  long shared_experts = 0;     // always-active experts of the same width
  long dense_layers = 0;       // the first layers keep a dense feed-forward of width `ffn`
  long groups = 1;             // group-limited routing: experts in `groups` groups ...
  long topk_groups = 1;        // ... of which a token may use the best topk_groups
  bool sigmoid = false;        // scores: sigmoid (DeepSeek-V3, with a per-expert bias) or softmax
  [[nodiscard]] bool enabled() const { return experts > 0; }
};

struct ModelSpec {
  std::string name;
  long layers = 0, hidden = 0, heads = 0, ffn = 0, vocab = 0, max_positions = 0;
  double rotary_fraction = 0;   // NeoX: fraction of the head dimension that is rotated
  bool parallel_residual = false;
  bool tied_embeddings = true;
  bool learned_positions = true;
  Activation activation = Activation::gelu_new;
  double dropout = 0;           // training-time dropout probability (GPT-2: 0.1)
  Norm norm = Norm::layernorm;
  Mlp mlp = Mlp::gelu;
  long kv_heads = 0;            // key/value heads (grouped-query attention); = heads for MHA
  long explicit_head_dim = 0;   // 0: hidden / heads
  bool bias = true;             // linear layers have biases (GPT-2, NeoX); Llama: none
  bool qkv_bias = true;         // the QKV projection has a bias (also Qwen2, which has no others)
  MlaSpec mla;
  MoeSpec moe;
  long mtp_modules = 0;         // multi-token-prediction modules (DeepSeek-V3: 1)

  /// hidden / heads unless given; not always an integer (GenSLM-25B: 8196 / 64).
  [[nodiscard]] double head_dim() const {
    return explicit_head_dim > 0 ? double(explicit_head_dim) : double(hidden) / double(heads);
  }
  /// True for GPT-2 / NeoX attention and norms (fused QKV with biases, LayerNorm, GELU MLP);
  /// experts and MTP modules may come on top.
  [[nodiscard]] bool is_gpt_style() const {
    return norm == Norm::layernorm && mlp == Mlp::gelu && kv_heads == heads && !mla.enabled() &&
           explicit_head_dim == 0 && bias && qkv_bias;
  }
  [[nodiscard]] bool is_moe_layer(long layer) const { return moe.enabled() && layer >= moe.dense_layers; }

  /// Parameters of one routed or shared expert.
  [[nodiscard]] double expert_params() const;
  /// Parameters of layer `layer` (attention, feed-forward or experts, norms).
  [[nodiscard]] double layer_params(long layer) const;
  /// Parameters one token uses in layer `layer` (only its top_k routed experts).
  [[nodiscard]] double layer_active_params(long layer) const;
  /// Parameters of one GPT-style transformer block (weights and biases, two LayerNorms).
  [[nodiscard]] double block_params() const { return layer_params(0); }
  /// All parameters of the main model (embeddings counted once when tied; MTP modules apart).
  [[nodiscard]] double total_params() const;
  /// Parameters a token uses: every dense weight, top_k routed experts per MoE layer.
  [[nodiscard]] double active_params() const;
  /// Parameters of the multi-token-prediction modules (each: a projection of 2d -> d, two
  /// norms and one MoE layer; embedding and head shared with the main model).
  [[nodiscard]] double mtp_params() const;
  /// Parameters of a pipeline stage of `layers` blocks: the first stage also holds the
  /// embeddings, the last the final norm and the LM head (a copy of the tied table when the
  /// two differ). One stage with both: total_params(). Assumes identical layers (GPT-style).
  [[nodiscard]] double stage_params(long layers, bool first, bool last) const;
};

[[nodiscard]] const ParamTable& model_params();
[[nodiscard]] const ParamTable& mla_params();
[[nodiscard]] const ParamTable& moe_params();
/// Reads a model given as a preset name, `{preset: name, overrides...}` or full dimensions.
[[nodiscard]] ModelSpec read_model(const YAML::Node& node, const std::string& path);

}  // namespace orrery
