// Strong identifiers: a rank, a network endpoint, a link and a plane are all small integers,
// but mixing them up is a bug the compiler should catch. Each is a distinct type that converts
// to its index only on request (`.index()` / `.value`).
#pragma once
#include <cstddef>
#include <functional>

namespace orrery {

template <class Tag>
struct Id {
  int value = -1;
  constexpr Id() = default;
  constexpr explicit Id(int v) : value(v) {}
  constexpr explicit Id(size_t v) : value(static_cast<int>(v)) {}
  [[nodiscard]] constexpr size_t index() const { return static_cast<size_t>(value); }
  [[nodiscard]] constexpr bool valid() const { return value >= 0; }
  friend constexpr bool operator==(Id a, Id b) { return a.value == b.value; }
  friend constexpr bool operator!=(Id a, Id b) { return a.value != b.value; }
  friend constexpr bool operator<(Id a, Id b) { return a.value < b.value; }
};

using RankId = Id<struct RankTag>;          // a rank of the parallel layout (global device index)
using EndpointId = Id<struct EndpointTag>;  // a network endpoint: a device or a CPU (see SystemShape)
using LinkId = Id<struct LinkTag>;          // a directed link of a plane
using PlaneId = Id<struct PlaneTag>;        // a network plane of the system

}  // namespace orrery

template <class Tag>
struct std::hash<orrery::Id<Tag>> {
  size_t operator()(orrery::Id<Tag> id) const noexcept { return std::hash<int>()(id.value); }
};
