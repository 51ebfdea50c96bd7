// The 1F1B pipeline order (PipeDream-flush, as Megatron-LM).
#pragma once
#include <functional>

namespace orrery::transformer {

/// Runs `m` micro-batches on stage `stage` of `pp`: pp - stage - 1 warm-up forwards, then one
/// forward and one backward alternately, then the remaining backwards.
void one_f_one_b(int pp, int stage, int m, const std::function<void(int)>& forward,
                 const std::function<void(int)>& backward);

}  // namespace orrery::transformer
