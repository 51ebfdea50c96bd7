// Model dimensions (the zoo in workloads/models/*.yaml) and how the framework implements them.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

#include "sim/config/params.h"

namespace orrery {

/// gelu_new: HF's Python tanh-GELU formula, eight element-wise kernels; gelu_tanh / gelu: one
/// fused kernel (nn.GELU).
enum class Activation { gelu_new, gelu_tanh, gelu };

struct ModelSpec {
  std::string name;
  long layers = 0, hidden = 0, heads = 0, ffn = 0, vocab = 0, max_positions = 0;
  double rotary_fraction = 0;   // NeoX: fraction of the head dimension that is rotated
  bool parallel_residual = false;
  bool tied_embeddings = true;
  bool learned_positions = true;
  Activation activation = Activation::gelu_new;
  double dropout = 0;           // training-time dropout probability (GPT-2: 0.1)

  /// hidden / heads; not always an integer (GenSLM-25B: 8196 / 64), so kept as a real number.
  [[nodiscard]] double head_dim() const { return static_cast<double>(hidden) / static_cast<double>(heads); }
  /// Parameters of one transformer block (weights and biases, two LayerNorms).
  [[nodiscard]] double block_params() const;
  /// All parameters (embeddings counted once when tied).
  [[nodiscard]] double total_params() const;
  /// Parameters of a pipeline stage of `layers` blocks: the first stage also holds the
  /// embeddings, the last the final norm and the LM head (a copy of the tied table when the
  /// two differ). One stage with both: total_params().
  [[nodiscard]] double stage_params(long layers, bool first, bool last) const;
};

[[nodiscard]] const ParamTable& model_params();
/// Reads a model given as a preset name, `{preset: name, overrides...}` or full dimensions.
[[nodiscard]] ModelSpec read_model(const YAML::Node& node, const std::string& path);

}  // namespace orrery
