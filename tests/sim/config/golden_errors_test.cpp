// Golden error messages for bad input: each case in tests/golden/errors/cases.txt must exit
// with code 2 (or the code after a last `| `, e.g. 3 for "does not fit") and print exactly the
// message in <case>.txt (file:line, YAML path, bad value, what is valid). Regenerate with
// tools/update_golden_errors.sh and review the diff.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("bad_input_gets_the_golden_error_message_and_exit_code_2", "[config][golden]") {
  int checked = 0;
  for (auto [name, args] : golden_cases("tests/golden/errors/cases.txt")) {
    int expected_code = 2;
    if (const auto bar = args.rfind('|'); bar != std::string::npos) {
      expected_code = std::stoi(args.substr(bar + 1));
      args = args.substr(0, bar);
    }
    std::ifstream golden(source_path("tests/golden/errors/" + name + ".txt"));
    std::stringstream expected;
    expected << golden.rdbuf();
    const CliResult r = run_orrery(args);
    INFO("case " << name << ": orrery" << args);
    CHECK(r.exit_code == expected_code);
    CHECK(r.err == expected.str());
    CHECK(r.out.empty());
    ++checked;
  }
  CHECK(checked >= 10);
}
