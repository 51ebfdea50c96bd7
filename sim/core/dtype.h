// Numeric formats of tensors and of compute peaks.
#pragma once
#include <string>
#include <vector>

namespace orrery {

enum class Dtype { fp32, tf32, bf16, fp16, fp8, int8 };

/// Bytes per element as stored in memory (tf32 is stored as fp32).
[[nodiscard]] double dtype_bytes(Dtype d);
[[nodiscard]] const char* dtype_name(Dtype d);
/// Throws std::invalid_argument for an unknown name.
[[nodiscard]] Dtype parse_dtype(const std::string& name);
[[nodiscard]] const std::vector<std::string>& dtype_names();

}  // namespace orrery
