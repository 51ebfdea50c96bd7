// Catch2 runner. SystemC calls sc_main; each test case runs in its own process
// (catch_discover_tests), so each gets a fresh SystemC kernel.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <systemc>  // declares sc_main with C linkage

#include <cstdlib>

int sc_main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }

namespace {
// SystemC prints its banner before sc_main unless this is set first.
const int quiet_banner = [] { return setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0); }();
}  // namespace
