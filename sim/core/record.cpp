#include "sim/core/record.h"

namespace orrery {

const char* wait_reason_name(WaitReason w) {
  switch (w) {
    case WaitReason::None: return "none";
    case WaitReason::Host: return "host launch";
    case WaitReason::Stream: return "stream order";
    case WaitReason::Dependency: return "dependency";
    case WaitReason::Engine: return "engine busy";
  }
  return "?";
}

}  // namespace orrery
