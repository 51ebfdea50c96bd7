// Preset YAML files compiled into the binary (see cmake/embed_presets.cmake).
#pragma once
#include <string>
#include <vector>

namespace orrery {

struct EmbeddedFile {
  const char* path;  // relative to the source root, e.g. "hw/devices/h100-sxm.yaml"
  const char* text;
};

[[nodiscard]] const std::vector<EmbeddedFile>& embedded_presets();

}  // namespace orrery
