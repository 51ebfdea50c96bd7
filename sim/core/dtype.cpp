#include "sim/core/dtype.h"

#include <stdexcept>

namespace orrery {

double dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::fp32:
    case Dtype::tf32: return 4;
    case Dtype::bf16:
    case Dtype::fp16: return 2;
    case Dtype::fp8:
    case Dtype::int8: return 1;
  }
  return 4;
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::fp32: return "fp32";
    case Dtype::tf32: return "tf32";
    case Dtype::bf16: return "bf16";
    case Dtype::fp16: return "fp16";
    case Dtype::fp8: return "fp8";
    case Dtype::int8: return "int8";
  }
  return "?";
}

const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names = {"fp32", "tf32", "bf16", "fp16", "fp8", "int8"};
  return names;
}

Dtype parse_dtype(const std::string& name) {
  for (Dtype d : {Dtype::fp32, Dtype::tf32, Dtype::bf16, Dtype::fp16, Dtype::fp8, Dtype::int8})
    if (name == dtype_name(d)) return d;
  throw std::invalid_argument("unknown dtype '" + name + "'; valid: fp32, tf32, bf16, fp16, fp8, int8");
}

}  // namespace orrery
