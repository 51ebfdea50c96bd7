#include "workloads/model.h"

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
          {"rotary_fraction", ParamType::Real, Dim::Dimensionless, "0", "fraction of the head dimension with rotary embeddings", {}, false, 0, true},
          {"parallel_residual", ParamType::Bool, Dim::Dimensionless, "false", "NeoX: attention and MLP read the same input"},
          {"tied_embeddings", ParamType::Bool, Dim::Dimensionless, "true", "LM head shares the token embedding"},
          {"learned_positions", ParamType::Bool, Dim::Dimensionless, "true", "learned position embedding table"},
          {"activation", ParamType::Enum, Dim::Dimensionless, "gelu_new", "gelu_new: HF Python tanh formula (8 kernels); gelu_tanh, gelu: one fused kernel", {"gelu_new", "gelu_tanh", "gelu"}},
          {"dropout", ParamType::Real, Dim::Dimensionless, "0", "dropout probability in training", {}, false, 0, true},
      }};
  return t;
}

double ModelSpec::block_params() const {
  const double d = static_cast<double>(hidden), f = static_cast<double>(ffn);
  return (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
}

double ModelSpec::total_params() const {
  const double d = static_cast<double>(hidden);
  double p = static_cast<double>(layers) * block_params() + static_cast<double>(vocab) * d + 2 * d;
  if (learned_positions) p += static_cast<double>(max_positions) * d;
  if (!tied_embeddings) p += static_cast<double>(vocab) * d;
  return p;
}

double ModelSpec::stage_params(long stage_layers, bool first, bool last) const {
  const double d = static_cast<double>(hidden), V = static_cast<double>(vocab);
  double p = static_cast<double>(stage_layers) * block_params();
  if (first) p += V * d + (learned_positions ? static_cast<double>(max_positions) * d : 0.0);
  if (last) p += 2 * d + ((!tied_embeddings || !first) ? V * d : 0.0);
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
  return m;
}

}  // namespace orrery
