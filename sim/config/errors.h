// Typed errors of the library; only main() turns them into exit codes.
#pragma once
#include <stdexcept>
#include <string>

namespace orrery {

/// Bad input: a config or workload that cannot be read or is invalid. Exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The workload does not fit in device memory. Exit code 3. The message holds the breakdown.
class DoesNotFitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// `text` safe to print on a terminal: control characters (but newlines), DEL, C1 controls,
/// bidirectional overrides and bytes that are not valid UTF-8 become visible escapes (\x1b,
/// \t, \u202e), so an echoed config value cannot move the cursor, recolour or reorder the
/// terminal or hide part of a message.
[[nodiscard]] std::string printable(const std::string& text);

}  // namespace orrery
