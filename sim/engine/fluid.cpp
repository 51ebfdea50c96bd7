#include "sim/engine/fluid.h"

#include <algorithm>
#include <numeric>

namespace orrery {

std::vector<double> max_min_share(double capacity, const std::vector<double>& caps) {
  std::vector<double> rate(caps.size(), 0);
  std::vector<size_t> order(caps.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return caps[a] < caps[b]; });
  double left = capacity;
  size_t remaining = caps.size();
  for (size_t idx : order) {
    const double fair = left / static_cast<double>(remaining);
    rate[idx] = std::min(caps[idx], fair);
    left -= rate[idx];
    --remaining;
  }
  return rate;
}

}  // namespace orrery
