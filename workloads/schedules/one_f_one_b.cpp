#include "workloads/schedules/one_f_one_b.h"

#include <algorithm>

namespace orrery::transformer {

void one_f_one_b(int pp, int stage, int m, const std::function<void(int)>& forward,
                 const std::function<void(int)>& backward) {
  const int warmup = std::min(pp - stage - 1, m);
  for (int j = 0; j < warmup; ++j) forward(j);
  for (int j = warmup; j < m; ++j) {
    forward(j);
    backward(j - warmup);
  }
  for (int j = m - warmup; j < m; ++j) backward(j);
}

}  // namespace orrery::transformer
