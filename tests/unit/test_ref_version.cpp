#include "ref/version.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace kget::ref {
namespace {

Version v(std::string_view text) {
  return value_or_throw(parse_version(text));
}

// The offset the caret of an error message points at: its last line is "  " + spaces + "^".
int caret_offset(const std::string& message) {
  size_t last_line = message.rfind('\n');
  if (last_line == std::string::npos || message.back() != '^') {
    return -1;
  }
  return static_cast<int>(message.size() - last_line - 1) - 3;
}

// ---------------------------------------------------------------------------------------------
// Parsing versions

struct ValidVersion {
  std::string text;
  int major;
  int minor;
  int patch;
  std::vector<std::string> prerelease;
  std::vector<std::string> build;
};

void PrintTo(const ValidVersion& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class ValidVersionTest : public testing::TestWithParam<ValidVersion> {};

TEST_P(ValidVersionTest, ParsesAllPartsAndPrintsItBack) {
  const ValidVersion& expected = GetParam();
  auto version = parse_version(expected.text);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->major, expected.major);
  EXPECT_EQ(version->minor, expected.minor);
  EXPECT_EQ(version->patch, expected.patch);
  EXPECT_EQ(version->prerelease, expected.prerelease);
  EXPECT_EQ(version->build, expected.build);
  EXPECT_EQ(version->is_prerelease(), !expected.prerelease.empty());
  EXPECT_EQ(to_string(*version), expected.text);
}

INSTANTIATE_TEST_SUITE_P(
    Semver, ValidVersionTest,
    testing::Values(
        ValidVersion{"0.0.0", 0, 0, 0, {}, {}}, ValidVersion{"1.2.3", 1, 2, 3, {}, {}},
        ValidVersion{"10.20.30", 10, 20, 30, {}, {}},
        ValidVersion{"1.1.2-prerelease+meta", 1, 1, 2, {"prerelease"}, {"meta"}},
        ValidVersion{"1.1.2+meta-valid", 1, 1, 2, {}, {"meta-valid"}},
        ValidVersion{"1.0.0-alpha.beta.1", 1, 0, 0, {"alpha", "beta", "1"}, {}},
        ValidVersion{"1.0.0-alpha0.valid", 1, 0, 0, {"alpha0", "valid"}, {}},
        ValidVersion{"1.0.0-alpha.0valid", 1, 0, 0, {"alpha", "0valid"}, {}},
        ValidVersion{"1.0.0-rc.1+build.1", 1, 0, 0, {"rc", "1"}, {"build", "1"}},
        ValidVersion{"10.2.3-DEV-SNAPSHOT", 10, 2, 3, {"DEV-SNAPSHOT"}, {}},
        ValidVersion{"1.0.0-0A.is.legal", 1, 0, 0, {"0A", "is", "legal"}, {}},
        ValidVersion{"1.0.0-0", 1, 0, 0, {"0"}, {}},
        ValidVersion{"1.0.0+001", 1, 0, 0, {}, {"001"}}, // leading zeros are fine in build
        ValidVersion{"1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
                     1,
                     2,
                     3,
                     {"---RC-SNAPSHOT", "12", "9", "1--", "12"},
                     {"788"}},
        ValidVersion{
            "2147483647.2147483647.2147483647", 2147483647, 2147483647, 2147483647, {}, {}},
        ValidVersion{"1.0.0-99999999999999999999", 1, 0, 0, {"99999999999999999999"}, {}}));

struct InvalidText {
  std::string text;
  std::string fragment; // the message must contain it
  int caret;            // offset the caret points at, -1 for no caret
};

void PrintTo(const InvalidText& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class InvalidVersionTest : public testing::TestWithParam<InvalidText> {};

TEST_P(InvalidVersionTest, FailsNamingInputProblemAndPlace) {
  const InvalidText& expected = GetParam();
  auto version = parse_version(expected.text);
  ASSERT_FALSE(version) << "parsed as " << to_string(*version);
  const std::string& message = version.error().message;
  EXPECT_EQ(version.error().kind, ErrorKind::invalid_reference);
  EXPECT_TRUE(message.starts_with("invalid version \"" + expected.text + "\": ")) << message;
  EXPECT_NE(message.find(expected.fragment), std::string::npos) << message;
  EXPECT_EQ(caret_offset(message), expected.caret) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Semver, InvalidVersionTest,
    testing::Values(
        InvalidText{"", "the version is empty", -1},
        InvalidText{"1", "\"1\" has 1 of the 3 parts", 1},
        InvalidText{"1.2", "\"1.2\" has 2 of the 3 parts", 3},
        InvalidText{"1.2-beta", "has 2 of the 3 parts", 3},
        InvalidText{"1.2.3.4", "too many parts", 5},
        InvalidText{"01.2.3", "the major version \"01\" has a leading zero", 0},
        InvalidText{"1.02.3", "the minor version \"02\" has a leading zero", 2},
        InvalidText{"1.2.03", "the patch version \"03\" has a leading zero", 4},
        InvalidText{"1.2.3-01", "numeric pre-release identifier \"01\" has a leading zero", 6},
        InvalidText{"1.2.3-", "empty pre-release identifier", 6},
        InvalidText{"1.2.3-a..b", "empty pre-release identifier", 8},
        InvalidText{"1.2.3-a.", "empty pre-release identifier", 8},
        InvalidText{"1.2.3+", "empty build identifier", 6},
        InvalidText{"1.2.3+a..b", "empty build identifier", 8},
        InvalidText{"1.2.3-a_b", "'_' is not allowed in a pre-release identifier", 7},
        InvalidText{"1.2.3+a$", "'$' is not allowed in a build identifier", 7},
        InvalidText{"1.2.3-\xce\xb1", "'\xce\xb1' is not allowed in a pre-release identifier", 6},
        InvalidText{"v1.2.3", "no leading 'v'", 0},
        InvalidText{"1.2.x", "'x' is not allowed in the patch version (digits only)", 4},
        InvalidText{"1..3", "the minor version is empty", 2},
        InvalidText{"-1.2.3", "the major version is empty", 0},
        InvalidText{" 1.2.3", "a space is not allowed in the major version", 0},
        InvalidText{"1.2.3 ", "a space is not allowed in the patch version", 5},
        InvalidText{"2147483648.0.0", "too large (at most 2147483647)", 0},
        InvalidText{"1.2.99999999999", "the patch version 99999999999 is too large", 4}));

// ---------------------------------------------------------------------------------------------
// Ordering

class OrderingChainTest : public testing::TestWithParam<std::vector<std::string>> {};

TEST_P(OrderingChainTest, EveryEarlierVersionIsLower) {
  std::vector<Version> chain;
  for (const std::string& text : GetParam()) {
    chain.push_back(v(text));
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_TRUE((chain[i] <=> chain[i]) == 0) << GetParam()[i];
    for (size_t j = i + 1; j < chain.size(); ++j) {
      EXPECT_LT(chain[i], chain[j]) << GetParam()[i] << " < " << GetParam()[j];
      EXPECT_GT(chain[j], chain[i]) << GetParam()[j] << " > " << GetParam()[i];
      EXPECT_NE(chain[i], chain[j]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Semver, OrderingChainTest,
    testing::Values(
        // The example of SemVer §11.
        std::vector<std::string>{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                 "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
        std::vector<std::string>{"1.0.0", "2.0.0", "2.1.0", "2.1.1"},
        std::vector<std::string>{"0.0.1", "0.1.0", "0.9.9", "0.10.0", "1.0.0-0", "1.0.0", "10.0.0"},
        std::vector<std::string>{"1.9.9", "1.10.0", "1.10.1-rc.1", "1.10.1"},
        // Numeric identifiers compare as numbers and rank below alphanumeric ones.
        std::vector<std::string>{"1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-99999999999999999999",
                                 "1.0.0-a", "1.0.0-a.1", "1.0.0-b"},
        std::vector<std::string>{"1.0.0-alpha.9", "1.0.0-alpha.10", "1.0.0-alpha.100",
                                 "1.0.0-alpha.a"},
        // Alphanumeric identifiers compare in ASCII order: upper case first, '-' before digits.
        std::vector<std::string>{"1.0.0--", "1.0.0-1a", "1.0.0-Z", "1.0.0-a", "1.0.0-a-b"},
        // A longer set of identifiers ranks higher when the shorter is its prefix.
        std::vector<std::string>{"1.0.0-rc", "1.0.0-rc.0", "1.0.0-rc.0.0", "1.0.0-rc.1"}));

TEST(VersionOrdering, BuildMetadataIsIgnoredButKept) {
  EXPECT_EQ(v("1.0.0+a") <=> v("1.0.0+b"), std::weak_ordering::equivalent);
  EXPECT_EQ(v("1.0.0+a") <=> v("1.0.0"), std::weak_ordering::equivalent);
  EXPECT_EQ(v("1.0.0-rc.1+x") <=> v("1.0.0-rc.1"), std::weak_ordering::equivalent);
  EXPECT_NE(v("1.0.0+a"), v("1.0.0+b"));
  EXPECT_EQ(v("1.0.0+a"), v("1.0.0+a"));
  EXPECT_LT(v("1.0.0-rc.1+zzz"), v("1.0.0+aaa"));
}

TEST(VersionOrdering, ComparesMajorThenMinorThenPatch) {
  EXPECT_LT(v("1.99.99"), v("2.0.0"));
  EXPECT_LT(v("1.2.99"), v("1.3.0"));
  EXPECT_GT(v("2.0.0-alpha"), v("1.99.99"));
}

// ---------------------------------------------------------------------------------------------
// Hub tag and branch names

struct TagCase {
  std::string tag;
  std::optional<std::string> version; // nullopt when not a release tag
};

void PrintTo(const TagCase& c, std::ostream* os) {
  *os << '"' << c.tag << '"';
}

class ParseTagTest : public testing::TestWithParam<TagCase> {};

TEST_P(ParseTagTest, AcceptsOnlyVPlusSemver) {
  auto version = parse_tag(GetParam().tag);
  if (!GetParam().version) {
    EXPECT_FALSE(version) << GetParam().tag << " parsed as " << to_string(*version);
    return;
  }
  ASSERT_TRUE(version) << GetParam().tag;
  EXPECT_EQ(to_string(*version), *GetParam().version);
  EXPECT_EQ(tag_name(*version), GetParam().tag);
}

INSTANTIATE_TEST_SUITE_P(
    Hub, ParseTagTest,
    testing::Values(TagCase{"v1.2.3", "1.2.3"}, TagCase{"v0.0.1", "0.0.1"},
                    TagCase{"v1.3.0-rc.1", "1.3.0-rc.1"}, TagCase{"v2.0.0+cu128", "2.0.0+cu128"},
                    TagCase{"1.2.3", std::nullopt}, TagCase{"v1", std::nullopt},
                    TagCase{"v1.2", std::nullopt}, TagCase{"V1.2.3", std::nullopt},
                    TagCase{"v01.2.3", std::nullopt}, TagCase{"main", std::nullopt},
                    TagCase{"", std::nullopt}, TagCase{"v", std::nullopt},
                    TagCase{"vv1.2.3", std::nullopt}, TagCase{"v1.2.3.4", std::nullopt},
                    TagCase{"release-1.2.3", std::nullopt}, TagCase{"v 1.2.3", std::nullopt},
                    TagCase{"v1.2.3-", std::nullopt}));

struct BranchCase {
  std::string branch;
  std::optional<int> major;
};

void PrintTo(const BranchCase& c, std::ostream* os) {
  *os << '"' << c.branch << '"';
}

class ParseMajorBranchTest : public testing::TestWithParam<BranchCase> {};

TEST_P(ParseMajorBranchTest, AcceptsOnlyVN) {
  EXPECT_EQ(parse_major_branch(GetParam().branch), GetParam().major) << GetParam().branch;
  if (GetParam().major) {
    EXPECT_EQ(branch_name(*GetParam().major), GetParam().branch);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Hub, ParseMajorBranchTest,
    testing::Values(BranchCase{"v1", 1}, BranchCase{"v0", 0}, BranchCase{"v12", 12},
                    BranchCase{"v2147483647", 2147483647}, BranchCase{"v01", std::nullopt},
                    BranchCase{"v", std::nullopt}, BranchCase{"1", std::nullopt},
                    BranchCase{"v1.2", std::nullopt}, BranchCase{"main", std::nullopt},
                    BranchCase{"v-1", std::nullopt}, BranchCase{"V1", std::nullopt},
                    BranchCase{"v2147483648", std::nullopt}, BranchCase{"v1 ", std::nullopt}));

// ---------------------------------------------------------------------------------------------
// Ranges: matching

struct MatchCase {
  std::string range;
  std::string version;
  bool matches;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << '"' << c.range << "\" " << (c.matches ? "matches " : "rejects ") << c.version;
}

class RangeMatchTest : public testing::TestWithParam<MatchCase> {};

TEST_P(RangeMatchTest, MatchesAsCargoAndNpmDo) {
  auto range = parse_range(GetParam().range);
  ASSERT_TRUE(range) << range.error().message;
  EXPECT_EQ(range->matches(v(GetParam().version)), GetParam().matches);
}

INSTANTIATE_TEST_SUITE_P(
    Caret, RangeMatchTest,
    testing::Values(MatchCase{"^1.2", "1.2.0", true}, MatchCase{"^1.2", "1.2.1", true},
                    MatchCase{"^1.2", "1.9.9", true}, MatchCase{"^1.2", "1.1.9", false},
                    MatchCase{"^1.2", "2.0.0", false}, MatchCase{"^1.2", "2.0.0-alpha", false},
                    MatchCase{"^1.2", "1.3.0-beta", false}, MatchCase{"^1.2.3", "1.2.3", true},
                    MatchCase{"^1.2.3", "1.2.2", false}, MatchCase{"^1.2.3", "1.99.0", true},
                    MatchCase{"^1.2.3", "2.0.0", false}, MatchCase{"^1", "1.0.0", true},
                    MatchCase{"^1", "1.9.0", true}, MatchCase{"^1", "0.9.9", false},
                    MatchCase{"^1", "2.0.0", false}, MatchCase{"^0.2", "0.2.0", true},
                    MatchCase{"^0.2", "0.2.9", true}, MatchCase{"^0.2", "0.3.0", false},
                    MatchCase{"^0.2", "0.1.9", false}, MatchCase{"^0.2.3", "0.2.3", true},
                    MatchCase{"^0.2.3", "0.2.2", false}, MatchCase{"^0.2.3", "0.2.9", true},
                    MatchCase{"^0.2.3", "0.3.0", false}, MatchCase{"^0.0.3", "0.0.3", true},
                    MatchCase{"^0.0.3", "0.0.4", false}, MatchCase{"^0.0.3", "0.0.2", false},
                    MatchCase{"^0.0", "0.0.0", true}, MatchCase{"^0.0", "0.0.9", true},
                    MatchCase{"^0.0", "0.1.0", false}, MatchCase{"^0", "0.0.0", true},
                    MatchCase{"^0", "0.9.9", true}, MatchCase{"^0", "1.0.0", false},
                    MatchCase{"^0.0.0", "0.0.0", true}, MatchCase{"^0.0.0", "0.0.1", false},
                    MatchCase{"^1.2.3", "1.5.0+build", true}));

INSTANTIATE_TEST_SUITE_P(
    Tilde, RangeMatchTest,
    testing::Values(MatchCase{"~1.2.3", "1.2.3", true}, MatchCase{"~1.2.3", "1.2.9", true},
                    MatchCase{"~1.2.3", "1.3.0", false}, MatchCase{"~1.2.3", "1.2.2", false},
                    MatchCase{"~1.2", "1.2.0", true}, MatchCase{"~1.2", "1.2.9", true},
                    MatchCase{"~1.2", "1.3.0", false}, MatchCase{"~1", "1.0.0", true},
                    MatchCase{"~1", "1.9.0", true}, MatchCase{"~1", "2.0.0", false},
                    MatchCase{"~0.2", "0.2.5", true}, MatchCase{"~0.2", "0.3.0", false},
                    MatchCase{"~0", "0.9.0", true}, MatchCase{"~0", "1.0.0", false}));

INSTANTIATE_TEST_SUITE_P(
    Comparators, RangeMatchTest,
    testing::Values(MatchCase{">=1.2,<2", "1.2.0", true}, MatchCase{">=1.2,<2", "1.9.9", true},
                    MatchCase{">=1.2,<2", "2.0.0", false}, MatchCase{">=1.2,<2", "1.1.9", false},
                    MatchCase{">=1.2,<2", "2.0.0-rc.1", false}, MatchCase{">1.2", "1.2.9", false},
                    MatchCase{">1.2", "1.3.0", true}, MatchCase{">1.2.3", "1.2.3", false},
                    MatchCase{">1.2.3", "1.2.4", true}, MatchCase{">1", "1.9.9", false},
                    MatchCase{">1", "2.0.0", true}, MatchCase{"<=1.2", "1.2.9", true},
                    MatchCase{"<=1.2", "1.3.0", false}, MatchCase{"<=1", "1.99.0", true},
                    MatchCase{"<=1", "2.0.0", false}, MatchCase{"<=1.2.3", "1.2.3", true},
                    MatchCase{"<=1.2.3", "1.2.4", false}, MatchCase{"<1.2", "1.1.9", true},
                    MatchCase{"<1.2", "1.2.0", false}, MatchCase{"<1", "0.99.0", true},
                    MatchCase{"<1", "1.0.0", false}, MatchCase{"<1.2.3", "1.2.2", true},
                    MatchCase{"<1.2.3", "1.2.3", false}, MatchCase{"=1.2.3", "1.2.3", true},
                    MatchCase{"=1.2.3", "1.2.4", false}, MatchCase{"=1.2.3", "1.2.3+build", true},
                    MatchCase{"=1.2", "1.2.0", true}, MatchCase{"=1.2", "1.2.7", true},
                    MatchCase{"=1.2", "1.3.0", false}, MatchCase{"=1", "1.5.0", true},
                    MatchCase{"=1", "2.0.0", false}, MatchCase{" >= 1.2 , < 2 ", "1.5.0", true},
                    MatchCase{" >= 1.2 , < 2 ", "2.5.0", false},
                    MatchCase{"^1.2,^1.4", "1.3.0", false}, MatchCase{"^1.2,^1.4", "1.4.0", true},
                    MatchCase{"~1.2,>1.2.3", "1.2.3", false},
                    MatchCase{"~1.2,>1.2.3", "1.2.4", true},
                    MatchCase{"~1.2,>1.2.3", "1.3.0", false}));

// Contradictions and bounds beyond INT_MAX are not errors: they match nothing, or everything.
INSTANTIATE_TEST_SUITE_P(
    Extremes, RangeMatchTest,
    testing::Values(MatchCase{">=2,<1", "1.5.0", false}, MatchCase{">=2,<1", "2.0.0", false},
                    MatchCase{">=1.2,<1.2", "1.2.0", false},
                    MatchCase{">2147483647", "2147483647.5.0", false},
                    MatchCase{">2147483647", "0.0.0", false},
                    MatchCase{"<=2147483647", "2147483647.2147483647.2147483647", true},
                    MatchCase{"^2147483647", "2147483647.5.0", true},
                    MatchCase{"~1.2147483647", "1.2147483647.7", true},
                    MatchCase{"~1.2147483647", "2.0.0", false},
                    MatchCase{"<=1.2.2147483647", "1.3.0", false},
                    MatchCase{"<=1.2.2147483647", "1.2.2147483647", true},
                    MatchCase{">1.2147483647", "2.0.0", true},
                    MatchCase{">1.2147483647", "1.2147483647.2147483647", false},
                    MatchCase{">=0.0.0", "0.0.0", true}));

// npm's rule: a pre-release matches only if a comparator names a pre-release of its x.y.z.
INSTANTIATE_TEST_SUITE_P(
    PreReleases, RangeMatchTest,
    testing::Values(
        MatchCase{">=1.0.0", "1.5.0-rc.1", false}, MatchCase{"<2", "1.0.0-alpha", false},
        MatchCase{"^1.0", "1.0.0-alpha", false}, MatchCase{"^1.2.3-beta.2", "1.2.3-beta.2", true},
        MatchCase{"^1.2.3-beta.2", "1.2.3-beta.3", true},
        MatchCase{"^1.2.3-beta.2", "1.2.3-beta.1", false},
        MatchCase{"^1.2.3-beta.2", "1.2.3", true}, MatchCase{"^1.2.3-beta.2", "1.3.0", true},
        MatchCase{"^1.2.3-beta.2", "1.2.4-alpha", false},
        MatchCase{"^1.2.3-beta.2", "2.0.0-alpha", false},
        MatchCase{"~1.2.3-rc.1", "1.2.3-rc.2", true}, MatchCase{"~1.2.3-rc.1", "1.2.3", true},
        MatchCase{"~1.2.3-rc.1", "1.2.4-rc.1", false},
        MatchCase{">=1.2.3-rc.1", "1.2.3-rc.1", true},
        MatchCase{">=1.2.3-rc.1", "1.2.3-beta", false},
        MatchCase{">=1.2.3-rc.1", "1.2.4-alpha", false}, MatchCase{">=1.2.3-rc.1", "1.2.4", true},
        MatchCase{">=1.0.0,<2.0.0-rc.1", "2.0.0-beta", true},
        MatchCase{">=1.0.0,<2.0.0-rc.1", "2.0.0-rc.1", false},
        MatchCase{"=1.2.3-rc.1", "1.2.3-rc.1", true}, MatchCase{"=1.2.3-rc.1", "1.2.3-rc.2", false},
        // The generated upper bound of ~1.2 keeps 1.3.0's pre-releases out even when another
        // comparator names one.
        MatchCase{"~1.2,<1.3.0-rc.1", "1.3.0-beta", false}));

TEST(VersionRange, DefaultMatchesEveryReleaseButNoPrerelease) {
  VersionRange range;
  EXPECT_TRUE(range.matches(v("0.0.0")));
  EXPECT_TRUE(range.matches(v("2147483647.0.0")));
  EXPECT_FALSE(range.matches(v("1.0.0-rc.1")));
}

// ---------------------------------------------------------------------------------------------
// Ranges: highest match

struct HighestCase {
  std::string range;
  std::optional<std::string> highest;
};

void PrintTo(const HighestCase& c, std::ostream* os) {
  *os << '"' << c.range << '"';
}

class HighestMatchTest : public testing::TestWithParam<HighestCase> {};

TEST_P(HighestMatchTest, PicksHighestMatchingVersion) {
  std::vector<Version> versions;
  for (const char* text : {"1.2.5", "1.0.0", "1.3.0-rc.1", "1.9.0", "2.0.0", "1.2.0", "2.1.0-beta",
                           "0.9.0", "0.9.1-rc.1"}) {
    versions.push_back(v(text));
  }
  auto highest = value_or_throw(parse_range(GetParam().range)).highest_match(versions);
  if (!GetParam().highest) {
    EXPECT_FALSE(highest) << to_string(*highest);
    return;
  }
  ASSERT_TRUE(highest);
  EXPECT_EQ(to_string(*highest), *GetParam().highest);
}

INSTANTIATE_TEST_SUITE_P(
    Releases, HighestMatchTest,
    testing::Values(HighestCase{"^1.2", "1.9.0"}, HighestCase{"~1.2", "1.2.5"},
                    HighestCase{"^1", "1.9.0"}, HighestCase{">=2", "2.0.0"},
                    HighestCase{"<1", "0.9.0"}, HighestCase{"^0.9", "0.9.0"},
                    HighestCase{"^3", std::nullopt}, HighestCase{"=1.2.0", "1.2.0"},
                    HighestCase{">=1.3.0-rc.1,<1.4", "1.3.0-rc.1"},
                    HighestCase{">=2.1.0-alpha", "2.1.0-beta"}, HighestCase{">=1.0.0", "2.0.0"},
                    HighestCase{"<=1.2", "1.2.5"}, HighestCase{">=2,<1", std::nullopt}));

TEST(HighestMatch, EmptyListHasNone) {
  EXPECT_FALSE(value_or_throw(parse_range("^1")).highest_match({}));
}

TEST(HighestMatch, FirstOfEquivalentVersionsWins) {
  auto highest = value_or_throw(parse_range("^1")).highest_match({v("1.0.0+a"), v("1.0.0+b")});
  ASSERT_TRUE(highest);
  EXPECT_EQ(to_string(*highest), "1.0.0+a");
}

// ---------------------------------------------------------------------------------------------
// Ranges: text and errors

struct CanonicalCase {
  std::string text;
  std::string canonical;
};

void PrintTo(const CanonicalCase& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class RangeTextTest : public testing::TestWithParam<CanonicalCase> {};

TEST_P(RangeTextTest, PrintsCanonicallyAndRoundTrips) {
  auto range = value_or_throw(parse_range(GetParam().text));
  EXPECT_EQ(to_string(range), GetParam().canonical);
  EXPECT_EQ(range.text(), GetParam().canonical);
  auto reparsed = value_or_throw(parse_range(to_string(range)));
  EXPECT_EQ(reparsed, range);
}

INSTANTIATE_TEST_SUITE_P(Canonical, RangeTextTest,
                         testing::Values(CanonicalCase{"^1.2", "^1.2"},
                                         CanonicalCase{" >= 1.2 , < 2 ", ">=1.2,<2"},
                                         CanonicalCase{"~ 1.2.3-rc.1+b", "~1.2.3-rc.1+b"},
                                         CanonicalCase{">1,<=2.0,=1.5.0", ">1,<=2.0,=1.5.0"},
                                         CanonicalCase{"\t^0.0.3\t", "^0.0.3"}));

class InvalidRangeTest : public testing::TestWithParam<InvalidText> {};

TEST_P(InvalidRangeTest, FailsNamingInputProblemAndPlace) {
  const InvalidText& expected = GetParam();
  auto range = parse_range(expected.text);
  ASSERT_FALSE(range) << "parsed as " << to_string(*range);
  const std::string& message = range.error().message;
  EXPECT_EQ(range.error().kind, ErrorKind::invalid_reference);
  EXPECT_TRUE(message.starts_with("invalid version range \"" + expected.text + "\": ")) << message;
  EXPECT_NE(message.find(expected.fragment), std::string::npos) << message;
  EXPECT_EQ(caret_offset(message), expected.caret) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, InvalidRangeTest,
    testing::Values(
        InvalidText{"", "the range is empty", -1}, InvalidText{"   ", "the range is empty", -1},
        InvalidText{">=1.2,", "empty comparator after ','", 5},
        InvalidText{",>=1.2", "empty comparator before ','", 0},
        InvalidText{">=1,,<2", "empty comparator before ','", 4},
        InvalidText{">=1, ,<2", "empty comparator before ','", 5},
        InvalidText{"=>1.2", "unknown operator \"=>\"; use one of ^ ~ = > >= < <=", 0},
        InvalidText{"==1.2", "unknown operator \"==\"", 0},
        InvalidText{"!=1.2", "unknown operator \"!=\"", 0},
        InvalidText{"~>1.2", "unknown operator \"~>\"", 0},
        InvalidText{"> =1.2", "unknown operator \"> =\"", 0},
        InvalidText{">=1,=<2", "unknown operator \"=<\"", 4},
        InvalidText{"1.2", "\"1.2\" has no operator; write ^1.2", 0},
        InvalidText{">=1.2, 2", "\"2\" has no operator", 7},
        InvalidText{"*", "expected an operator and a version", 0},
        InvalidText{"latest", "got \"latest\"", 0},
        InvalidText{">=", "missing version after \">=\"", 2},
        InvalidText{"^ ", "missing version after \"^\"", 1},
        InvalidText{">=1.x", "'x' is not allowed in the minor version", 4},
        InvalidText{"^v1.2", "no leading 'v'", 1},
        InvalidText{"^1.2-beta", "a pre-release or build needs all of MAJOR.MINOR.PATCH", 4},
        InvalidText{"^1+build", "a pre-release or build needs all of MAJOR.MINOR.PATCH", 2},
        InvalidText{">=1.2.3.4", "too many parts", 7}, InvalidText{"^01.2", "leading zero", 1},
        InvalidText{">=1.2.3-", "empty pre-release identifier", 8},
        InvalidText{">=1.2 <2", "join comparators with ','", 5},
        InvalidText{"^2147483648", "too large", 1}));

TEST(RangeErrors, CaretCountsColumnsNotBytes) {
  auto range = parse_range("^1.2-\xc3\xa9, ^1.x");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("a pre-release or build needs"), std::string::npos);
  // "é" takes two bytes but one column; the caret sits under the '-' at offset 4.
  EXPECT_EQ(caret_offset(range.error().message), 4);
}

TEST(RangeErrors, ControlCharactersAreShownEscaped) {
  auto version = parse_version("1.2.\x01");
  ASSERT_FALSE(version);
  const std::string& message = version.error().message;
  EXPECT_NE(message.find("\"1.2.\\x01\""), std::string::npos) << message;
  EXPECT_NE(message.find("control character 0x01"), std::string::npos) << message;
  EXPECT_EQ(caret_offset(message), 4);
}

} // namespace
} // namespace kget::ref
