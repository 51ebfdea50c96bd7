// Megatron-LM tensor parallelism (optionally sequence-parallel): how a block's GEMMs are split
// over the tp ranks and the conjugate collectives around each tensor-parallel region.
#pragma once
#include <string>

#include "workloads/blocks/step.h"
#include "workloads/parallel.h"

namespace orrery::transformer {

class TensorParallel {
 public:
  explicit TensorParallel(const ParallelSpec& par)
      : size_(par.tp), sp_(par.sp), tp_(static_cast<double>(par.tp)) {}

  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] double ways() const { return tp_; }
  [[nodiscard]] bool sp() const { return sp_; }
  /// One rank's share of a split dimension: column-parallel GEMMs (qkv, fc1, lm_head) keep
  /// out/tp outputs, row-parallel ones (proj, fc2) in/tp inputs; heads/tp heads per rank.
  [[nodiscard]] double shard(double x) const { return x / tp_; }
  /// Tokens a norm, dropout or residual add sees: T/tp with sequence parallelism, else T.
  [[nodiscard]] double norm_tokens(double T) const { return sp_ ? T / tp_ : T; }

  /// "f": forward identity (all-gather with sp), backward all-reduce (reduce-scatter with sp)
  /// of the T x d activations, bytes_per_elem each.
  void enter(Steps& p, const std::string& name, double T, double d, double bytes_per_elem) const;
  /// "g": forward all-reduce (reduce-scatter with sp), backward identity (all-gather with sp).
  void leave(Steps& p, const std::string& name, double T, double d, double bytes_per_elem) const;

 private:
  int size_ = 1;
  bool sp_ = false;
  double tp_ = 1;
};

}  // namespace orrery::transformer
