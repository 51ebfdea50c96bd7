#include "sim/engine/process_guard.h"

#include <fmt/format.h>

#include <cmath>

#include "sim/config/errors.h"

namespace orrery {

namespace {
std::exception_ptr& slot() {
  static std::exception_ptr error;  // one SystemC kernel per process
  return error;
}
}  // namespace

void keep_process_error(std::exception_ptr error) {
  if (!slot()) slot() = std::move(error);
  sc_core::sc_stop();
}

std::exception_ptr process_error() { return slot(); }

sc_core::sc_time delay(double seconds) {
  const double now = sc_core::sc_time_stamp().to_seconds();
  if (!std::isfinite(seconds) || seconds < 0 || now + seconds > kMaxSimulatedSeconds)
    throw ConfigError(fmt::format(
        "the simulated clock would pass {:g} s (at {:g} s, an operation of {:g} s): a bandwidth, "
        "latency, peak, size or count in the inputs is outside any real range",
        kMaxSimulatedSeconds, now, seconds));
  return sc_core::sc_time(seconds, sc_core::SC_SEC);
}

}  // namespace orrery
