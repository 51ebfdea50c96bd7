// `orrery list`: presets, component types, and every parameter with unit and meaning.
#pragma once
#include <string>

namespace orrery {
[[nodiscard]] std::string list_text(const std::string& what, bool markdown);
}
