#include "workloads/model.h"

#include <fmt/format.h>

#include "sim/config/yaml_doc.h"

namespace orrery {

const ParamTable& model_params() {
  static const ParamTable t{
      "model",
      "Transformer dimensions (public configurations) and implementation choices.",
      {
          {"name", ParamType::String, Dim::Dimensionless, "custom", "model name"},
          {"description", ParamType::String, Dim::Dimensionless, "-", "what the model is, with sources"},
          {"layers", ParamType::Integer, Dim::Dimensionless, "", "transformer blocks"},
          {"hidden", ParamType::Integer, Dim::Dimensionless, "", "model width d"},
          {"heads", ParamType::Integer, Dim::Dimensionless, "", "attention heads"},
          {"ffn", ParamType::Integer, Dim::Dimensionless, "", "MLP inner width"},
          {"vocab", ParamType::Integer, Dim::Dimensionless, "", "vocabulary size"},
          {"max_positions", ParamType::Integer, Dim::Dimensionless, "2048", "context length"},
          {"rotary_fraction", ParamType::Real, Dim::Dimensionless, "0", "fraction of the head dimension with rotary embeddings", {}, false, 0, true, 1.0},
          {"parallel_residual", ParamType::Bool, Dim::Dimensionless, "false", "NeoX: attention and MLP read the same input"},
          {"tied_embeddings", ParamType::Bool, Dim::Dimensionless, "true", "LM head shares the token embedding"},
          {"learned_positions", ParamType::Bool, Dim::Dimensionless, "true", "learned position embedding table"},
          {"activation", ParamType::Enum, Dim::Dimensionless, "gelu_new", "gelu_new: HF Python tanh formula (8 kernels); gelu_tanh, gelu: one fused kernel", {"gelu_new", "gelu_tanh", "gelu"}},
          {"dropout", ParamType::Real, Dim::Dimensionless, "0", "dropout probability in training", {}, false, 0, true, 1.0},
          {"norm", ParamType::Enum, Dim::Dimensionless, "layernorm", "layernorm (weight and bias) or rmsnorm (weight only)", {"layernorm", "rmsnorm"}},
          {"mlp", ParamType::Enum, Dim::Dimensionless, "gelu", "gelu: fc1, `activation`, fc2; swiglu: gate and up projections, silu(gate)*up, down projection", {"gelu", "swiglu"}},
          {"kv_heads", ParamType::Integer, Dim::Dimensionless, "", "key/value heads (grouped-query attention; default: heads)", {}, true},
          {"head_dim", ParamType::Integer, Dim::Dimensionless, "", "per-head dimension (default: hidden / heads)", {}, true},
          {"bias", ParamType::Bool, Dim::Dimensionless, "true", "linear layers have biases (GPT-2, NeoX); false for the Llama family"},
          {"qkv_bias", ParamType::Bool, Dim::Dimensionless, "", "the QKV projection has a bias (default: bias; Qwen2: true with bias false)", {}, true},
          {"mla", ParamType::Section, Dim::Dimensionless, "", "multi-head latent attention (see `mla`)", {}, true},
          {"moe", ParamType::Section, Dim::Dimensionless, "", "mixture of experts (see `moe`)", {}, true},
          {"mtp_modules", ParamType::Integer, Dim::Dimensionless, "0", "multi-token-prediction modules (DeepSeek-V3: 1)", {}, false, 0, true},
      }};
  return t;
}

const ParamTable& mla_params() {
  static const ParamTable t{
      "mla",
      "Multi-head latent attention (DeepSeek-V2/V3): low-rank query and key/value latents; the KV cache holds kv_lora_rank + qk_rope_head_dim values per token per layer.",
      {
          {"q_lora_rank", ParamType::Integer, Dim::Dimensionless, "0", "query latent width (0: no query compression)", {}, false, 0, true},
          {"kv_lora_rank", ParamType::Integer, Dim::Dimensionless, "", "key/value latent width, cached per token"},
          {"qk_nope_head_dim", ParamType::Integer, Dim::Dimensionless, "", "per-head query/key dims without positional encoding"},
          {"qk_rope_head_dim", ParamType::Integer, Dim::Dimensionless, "", "per-head query/key dims with RoPE (the key part is shared by all heads)"},
          {"v_head_dim", ParamType::Integer, Dim::Dimensionless, "", "per-head value dims"},
      }};
  return t;
}

const ParamTable& moe_params() {
  static const ParamTable t{
      "moe",
      "Mixture of experts: MoE layers replace the dense feed-forward by routed SwiGLU experts (each token uses top_k of them) plus shared experts.",
      {
          {"experts", ParamType::Integer, Dim::Dimensionless, "", "routed experts per MoE layer"},
          {"top_k", ParamType::Integer, Dim::Dimensionless, "", "routed experts per token"},
          {"expert_ffn", ParamType::Integer, Dim::Dimensionless, "", "intermediate width of one expert"},
          {"shared_experts", ParamType::Integer, Dim::Dimensionless, "0", "always-active experts of width expert_ffn", {}, false, 0, true},
          {"dense_layers", ParamType::Integer, Dim::Dimensionless, "0", "the first layers keep a dense feed-forward of width ffn", {}, false, 0, true},
          {"groups", ParamType::Integer, Dim::Dimensionless, "1", "group-limited routing: the experts form this many groups"},
          {"topk_groups", ParamType::Integer, Dim::Dimensionless, "1", "a token's experts come from its best topk_groups groups"},
          {"scoring", ParamType::Enum, Dim::Dimensionless, "softmax", "router scores: softmax (Mixtral) or sigmoid with a per-expert bias (DeepSeek-V3)", {"softmax", "sigmoid"}},
      }};
  return t;
}

namespace {

MlaSpec read_mla(const Section& s) {
  MlaSpec a;
  a.q_lora_rank = s.integer("q_lora_rank");
  a.kv_lora_rank = s.integer("kv_lora_rank");
  a.qk_nope_head_dim = s.integer("qk_nope_head_dim");
  a.qk_rope_head_dim = s.integer("qk_rope_head_dim");
  a.v_head_dim = s.integer("v_head_dim");
  return a;
}

MoeSpec read_moe(const Section& s, long layers) {
  MoeSpec e;
  e.experts = s.integer("experts");
  e.top_k = s.integer("top_k");
  e.expert_ffn = s.integer("expert_ffn");
  e.shared_experts = s.integer("shared_experts");
  e.dense_layers = s.integer("dense_layers");
  e.groups = s.integer("groups");
  e.topk_groups = s.integer("topk_groups");
  e.sigmoid = s.string("scoring") == "sigmoid";
  if (e.top_k > e.experts)
    s.fail("top_k", fmt::format("value {} exceeds experts ({}); a token uses at most every expert", e.top_k, e.experts));
  if (e.experts % e.groups != 0)
    s.fail("groups", fmt::format("value {} does not divide experts ({})", e.groups, e.experts));
  if (e.topk_groups > e.groups)
    s.fail("topk_groups", fmt::format("value {} exceeds groups ({})", e.topk_groups, e.groups));
  if (e.top_k > e.topk_groups * (e.experts / e.groups))
    s.fail("top_k", fmt::format("value {} exceeds the experts of {} group(s) of {}", e.top_k, e.topk_groups, e.experts / e.groups));
  if (e.dense_layers >= layers)
    s.fail("dense_layers", fmt::format("value {} leaves no MoE layer of the model's {}", e.dense_layers, layers));
  return e;
}

}  // namespace

namespace {

double norm_params(const ModelSpec& m) {
  return (m.norm == Norm::layernorm ? 2.0 : 1.0) * double(m.hidden);
}

/// Attention weights of one layer.
///   MHA/GQA: q d x h*hd, k and v d x kvh*hd, o h*hd x d (+ biases)
///   MLA:     q_a d x qr, q_norm qr, q_b qr x h*(nope+rope); kv_a d x (kvr+rope), kv_norm kvr,
///            kv_b kvr x h*(nope+v); o h*v x d
double attention_params(const ModelSpec& m) {
  const double d = double(m.hidden), h = double(m.heads);
  if (m.mla.enabled()) {
    const MlaSpec& a = m.mla;
    const double qk = double(a.qk_nope_head_dim + a.qk_rope_head_dim), qr = double(a.q_lora_rank);
    const double q = a.q_lora_rank > 0 ? d * qr + qr + qr * h * qk : d * h * qk;
    const double kv = d * double(a.kv_lora_rank + a.qk_rope_head_dim) + double(a.kv_lora_rank) +
                      double(a.kv_lora_rank) * h * double(a.qk_nope_head_dim + a.v_head_dim);
    return q + kv + h * double(a.v_head_dim) * d;
  }
  const double hd = m.head_dim(), kvh = double(m.kv_heads);
  const double qkv = d * (h + 2 * kvh) * hd, o = h * hd * d;
  const double biases = (m.qkv_bias ? (h + 2 * kvh) * hd : 0.0) + (m.bias ? d : 0.0);
  return qkv + o + biases;
}

/// A dense feed-forward of width f: gelu d*f + f*d (+ f + d biases); swiglu 3*d*f.
double ffn_params(const ModelSpec& m, double f) {
  const double d = double(m.hidden);
  if (m.mlp == Mlp::swiglu) return 3 * d * f + (m.bias ? 2 * f + d : 0.0);
  return 2 * d * f + (m.bias ? f + d : 0.0);
}

/// Router: d x experts (+ a per-expert score bias with sigmoid scoring).
double router_params(const ModelSpec& m) {
  return double(m.hidden) * double(m.moe.experts) + (m.moe.sigmoid ? double(m.moe.experts) : 0.0);
}

/// Parameters of layer `layer` when `routed` of its routed experts count.
double layer_with(const ModelSpec& m, long layer, double routed) {
  double p = attention_params(m) + 2 * norm_params(m);
  if (!m.is_moe_layer(layer)) return p + ffn_params(m, double(m.ffn));
  const double expert = ffn_params(m, double(m.moe.expert_ffn));
  return p + (routed + double(m.moe.shared_experts)) * expert + router_params(m);
}

/// Embedding, final norm, positions and the untied LM head.
double outer_params(const ModelSpec& m) {
  const double d = double(m.hidden), V = double(m.vocab);
  double p = V * d + norm_params(m);
  if (m.learned_positions) p += double(m.max_positions) * d;
  if (!m.tied_embeddings) p += V * d;
  return p;
}

}  // namespace

double ModelSpec::expert_params() const { return ffn_params(*this, double(moe.expert_ffn)); }

double ModelSpec::layer_params(long layer) const { return layer_with(*this, layer, double(moe.experts)); }

double ModelSpec::layer_active_params(long layer) const {
  return layer_with(*this, layer, double(moe.top_k));
}

double ModelSpec::total_params() const {
  double p = outer_params(*this);
  for (long l = 0; l < layers; ++l) p += layer_params(l);
  return p;
}

double ModelSpec::active_params() const {
  double p = outer_params(*this);
  for (long l = 0; l < layers; ++l) p += layer_active_params(l);
  return p;
}

double ModelSpec::mtp_params() const {
  const double d = double(hidden);
  return double(mtp_modules) * (2 * d * d + 3 * norm_params(*this) + layer_params(layers - 1));
}

double ModelSpec::stage_params(long stage_layers, bool first, bool last) const {
  const double d = static_cast<double>(hidden), V = static_cast<double>(vocab);
  double p = static_cast<double>(stage_layers) * block_params();
  if (first) p += V * d + (learned_positions ? static_cast<double>(max_positions) * d : 0.0);
  if (last) p += norm_params(*this) + ((!tied_embeddings || !first) ? V * d : 0.0);
  return p;
}

ModelSpec read_model(const YAML::Node& node, const std::string& path) {
  const YAML::Node resolved = resolve_preset(PresetKind::Model, node, path);
  const Section s(resolved, path, model_params());
  ModelSpec m;
  m.name = s.string("name");
  m.layers = s.integer("layers");
  m.hidden = s.integer("hidden");
  m.heads = s.integer("heads");
  m.ffn = s.integer("ffn");
  m.vocab = s.integer("vocab");
  m.max_positions = s.integer("max_positions");
  m.rotary_fraction = s.real("rotary_fraction");
  m.parallel_residual = s.boolean("parallel_residual");
  m.tied_embeddings = s.boolean("tied_embeddings");
  m.learned_positions = s.boolean("learned_positions");
  const std::string act = s.string("activation");
  m.activation = act == "gelu_new" ? Activation::gelu_new
                 : act == "gelu_tanh" ? Activation::gelu_tanh : Activation::gelu;
  m.dropout = s.real("dropout");
  if (m.dropout >= 1) s.fail("dropout", "a probability must be below 1");
  m.norm = s.string("norm") == "rmsnorm" ? Norm::rmsnorm : Norm::layernorm;
  m.mlp = s.string("mlp") == "swiglu" ? Mlp::swiglu : Mlp::gelu;
  m.kv_heads = s.has("kv_heads") ? s.integer("kv_heads") : m.heads;
  if (m.heads % m.kv_heads != 0)
    s.fail("kv_heads", fmt::format("value {} does not divide heads ({}); each key/value head serves a whole group of query heads", m.kv_heads, m.heads));
  if (s.has("head_dim")) m.explicit_head_dim = s.integer("head_dim");
  // The head dimension is hidden / heads unless head_dim is given. It need not be whole
  // (genslm-25b: hidden 8196, 64 heads; tensor parallelism checks its own divisibility).
  if (!s.has("head_dim") && !s.has("mla") && m.heads > m.hidden)
    s.fail("heads", fmt::format("value {} exceeds hidden ({}): a head would have less than one dimension; "
                                "give head_dim or fewer heads", m.heads, m.hidden));
  m.bias = s.boolean("bias");
  m.qkv_bias = s.has("qkv_bias") ? s.boolean("qkv_bias") : m.bias;
  if (s.has("mla")) m.mla = read_mla(Section(s.node("mla"), path + ".mla", mla_params()));
  if (s.has("moe")) m.moe = read_moe(Section(s.node("moe"), path + ".moe", moe_params()), m.layers);
  m.mtp_modules = s.integer("mtp_modules");
  return m;
}

}  // namespace orrery
