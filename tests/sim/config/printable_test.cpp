// printable(): what an error message echoes cannot drive the terminal.
#include <catch2/catch.hpp>

#include "sim/config/errors.h"

using namespace orrery;

TEST_CASE("control_characters_and_invalid_utf8_are_escaped", "[config]") {
  CHECK(printable("a\x1b[31mb") == "a\\x1b[31mb");
  CHECK(printable("tab\there") == "tab\\there");
  CHECK(printable("line one\nline two") == "line one\nline two");
  CHECK(printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(printable("bad \xff byte") == "bad \\xff byte");
  CHECK(printable("cut \xe2\x82") == "cut \\xe2\\x82");
  CHECK(printable("rtl \xe2\x80\xae override") == "rtl \\u202e override");
  CHECK(printable("caf\xc3\xa9 \xe2\x89\x88 3.35 TB/s") == "caf\xc3\xa9 \xe2\x89\x88 3.35 TB/s");  // valid UTF-8 stays
}
