#include "sim/engine/fluid.h"

#include <catch2/catch.hpp>

using namespace orrery;

TEST_CASE("two_uncapped_users_each_get_half", "[fluid]") {
  const auto r = max_min_share(100, {1e9, 1e9});
  CHECK(r[0] == Approx(50));
  CHECK(r[1] == Approx(50));
}

TEST_CASE("a_capped_user_leaves_its_unused_share_to_the_others", "[fluid]") {
  const auto r = max_min_share(100, {10, 1e9, 1e9});
  CHECK(r[0] == Approx(10));
  CHECK(r[1] == Approx(45));
  CHECK(r[2] == Approx(45));
}

TEST_CASE("shares_never_exceed_capacity", "[fluid]") {
  const auto r = max_min_share(100, {30, 30, 30, 30});
  double sum = 0;
  for (double x : r) sum += x;
  CHECK(sum == Approx(100));
  CHECK(r[0] == Approx(25));
}
