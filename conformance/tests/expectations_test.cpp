// Tests of the expectations manifest parser and its matching rules.
#include "ipcc/conformance/expectations.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ipcc::conformance {
namespace {

Expectations parse(const std::string& text) {
  std::istringstream in(text);
  return Expectations::parse(in, "m.txt");
}

std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(Expectations, EmptyManifestExpectsPassOrUnsupported) {
  auto m = parse("# nothing known\n\n");
  EXPECT_TRUE(m.accepts("S.T", {"a.b.c"}, Verdict::pass));
  EXPECT_TRUE(m.accepts("S.T", {"a.b.c"}, Verdict::unsupported));
  EXPECT_FALSE(m.accepts("S.T", {"a.b.c"}, Verdict::fail));
  EXPECT_FALSE(m.targets("S.T", {"a.b.c"}));
}

TEST(Expectations, ClauseEntryRejectsUnexpectedPass) {
  auto m = parse("a.b.c FAIL drops messages\n");
  EXPECT_TRUE(m.accepts("S.T", {"a.b.c"}, Verdict::fail));
  EXPECT_FALSE(m.accepts("S.T", {"a.b.c"}, Verdict::pass));
  EXPECT_FALSE(m.accepts("S.T", {"a.b.c"}, Verdict::timeout));
  EXPECT_TRUE(m.targets("S.T", {"x.y.z", "a.b.c"}));
}

TEST(Expectations, TestNameBeatsClauseBeatsWildcard) {
  auto m = parse("* ANY anything goes\na.b.c TIMEOUT hangs\nS.T CRASH dies\n");
  EXPECT_EQ(m.find("S.T", {"a.b.c"})->reason, "dies");
  EXPECT_EQ(m.find("S.U", {"a.b.c"})->reason, "hangs");
  EXPECT_EQ(m.find("S.U", {"q.r.s"})->reason, "anything goes");
  EXPECT_TRUE(m.accepts("S.U", {"q.r.s"}, Verdict::fail));
  EXPECT_FALSE(m.accepts("S.U", {"q.r.s"}, Verdict::broken)) << "ANY never covers a harness failure";
  EXPECT_FALSE(m.targets("S.U", {"q.r.s"}));
}

TEST(Expectations, AlternativesAcceptEither) {
  auto m = parse("a.b.c FAIL|TIMEOUT intermittent hang\n");
  EXPECT_TRUE(m.accepts("S.T", {"a.b.c"}, Verdict::fail));
  EXPECT_TRUE(m.accepts("S.T", {"a.b.c"}, Verdict::timeout));
  EXPECT_FALSE(m.accepts("S.T", {"a.b.c"}, Verdict::crash));
}

TEST(Expectations, BadManifestsNameTheLine) {
  EXPECT_EQ(parse_error("\na.b.c\n"), "m.txt:2: expected '<key> <VERDICT> <reason>', got only 'a.b.c'");
  EXPECT_EQ(parse_error("a.b.c PASSED why\n"),
            "m.txt:1: unknown verdict 'PASSED' (use PASS, FAIL, UNSUPPORTED, TIMEOUT, CRASH or ANY)");
  EXPECT_EQ(parse_error("a.b.c BROKEN harness\n"),
            "m.txt:1: BROKEN cannot be expected: it is a harness failure, not an adapter's behaviour "
            "(spec/README.md, Verdicts)");
  EXPECT_EQ(parse_error("a.b.c FAIL\n"), "m.txt:1: entry for 'a.b.c' gives no reason");
  EXPECT_EQ(parse_error("a.b.c FAIL one\na.b.c PASS two\n"), "m.txt:2: 'a.b.c' is already listed on line 1");
  EXPECT_EQ(parse_error("a.b.c FAIL|| x\n"),
            "m.txt:1: unknown verdict '' (use PASS, FAIL, UNSUPPORTED, TIMEOUT, CRASH or ANY)");
}

TEST(Expectations, ReasonsMayContainHashes) {
  auto m = parse("  # a comment line\na.b.c FAIL upstream issue #12, see https://example.org/x#frag\n");
  EXPECT_EQ(m.find("S.T", {"a.b.c"})->reason, "upstream issue #12, see https://example.org/x#frag");
}

TEST(Expectations, UnreadableFileIsAnError) {
  EXPECT_THROW(Expectations::load("/nonexistent/manifest.txt"), std::invalid_argument);
}

}  // namespace
}  // namespace ipcc::conformance
