// The eager kernels blocks are made of (linear, layernorm, activation, residual add, dropout,
// copy), each as Steps: forward op plus the backward ops autograd runs for it. Byte counts per
// element use the Numerics dtypes; each op's equation is in docs/models.md ("How a
// transformer becomes kernels").
#pragma once
#include <string>

#include "workloads/blocks/block_context.h"

namespace orrery::transformer {

/// nn.Linear over T tokens, in -> out (y = x W^T + b), with the autocast casts of its input
/// and (on the first forward, before autocast caches them) of its weight and bias.
void linear(const BlockContext& c, Steps& p, const std::string& name, double T, double in,
            double out, bool bias, bool cast_input, bool cast_weight);
[[nodiscard]] Step layernorm(const BlockContext& c, const std::string& name, double T, double d);
/// HF LlamaRMSNorm over T x d (weight only), as its eager kernels (see ops.cpp).
[[nodiscard]] Step rmsnorm(const BlockContext& c, const std::string& name, double T, double d);
/// The model's norm: layernorm (GPT-2, NeoX) or rmsnorm (Llama family).
[[nodiscard]] Step norm(const BlockContext& c, const std::string& name, double T, double d);
/// The model's GELU over `elems` elements.
void activation(const BlockContext& c, Steps& p, const std::string& name, double elems);
/// `kernels` residual adds of a T x d branch output into the residual stream.
[[nodiscard]] Step residual_add(const BlockContext& c, const std::string& name, double T,
                                double d, int kernels);
[[nodiscard]] Step dropout(const BlockContext& c, const std::string& name, double elems);
/// transpose + contiguous + view of `elems` elements.
[[nodiscard]] Step copy(const BlockContext& c, const std::string& name, double elems,
                        double bytes_per_elem);

}  // namespace orrery::transformer
