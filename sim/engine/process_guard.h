// SystemC processes must not throw through the kernel: it reports an escaping exception as
// its own error and the type (a ConfigError, exit 2) is lost. Every process body runs
// guarded: the first exception is kept, the simulation stops, and Simulation::run rethrows
// it. Delays go through delay(), which refuses to move the clock past what any real run needs
// instead of letting SystemC's 64-bit picosecond clock overflow (a hang).
#pragma once
#include <systemc>

#include <exception>

namespace orrery {

/// Simulated seconds no run may pass (SystemC's clock wraps at 2^64 ps, about 1.8e7 s).
constexpr double kMaxSimulatedSeconds = 1e7;

void keep_process_error(std::exception_ptr error);
/// The first exception a guarded process raised in this process's simulation, if any.
[[nodiscard]] std::exception_ptr process_error();

template <class Body>
void guarded(Body&& body) {
  try {
    body();
  } catch (...) {
    keep_process_error(std::current_exception());
  }
}

/// `seconds` from now as an sc_time; a ConfigError when it is not finite or would take the
/// clock past kMaxSimulatedSeconds.
[[nodiscard]] sc_core::sc_time delay(double seconds);

}  // namespace orrery
