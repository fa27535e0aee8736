#include "ref/kernel_ref.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace kget::ref {
namespace {

constexpr std::string_view k_sha = "0123456789abcdef0123456789abcdef01234567";

int caret_offset(const std::string& message) {
  size_t last_line = message.rfind('\n');
  if (last_line == std::string::npos || message.back() != '^') {
    return -1;
  }
  return static_cast<int>(message.size() - last_line - 1) - 3;
}

Spec tag(std::string_view version) {
  return TagSpec{value_or_throw(parse_version(version))};
}

Spec range(std::string_view text) {
  return RangeSpec{value_or_throw(parse_range(text)), std::string(text)};
}

// ---------------------------------------------------------------------------------------------
// Valid references

struct ValidRef {
  std::string text;
  std::string org;
  std::string name;
  Spec spec;
  std::string description;
  std::optional<std::string> revision;
  std::string printed; // to_string of the parsed reference; empty means the input itself
};

void PrintTo(const ValidRef& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class ValidRefTest : public testing::TestWithParam<ValidRef> {};

TEST_P(ValidRefTest, ParsesDescribesAndRoundTrips) {
  const ValidRef& expected = GetParam();
  auto ref = parse_kernel_ref(expected.text);
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(ref->org, expected.org);
  EXPECT_EQ(ref->name, expected.name);
  EXPECT_EQ(ref->spec.index(), expected.spec.index());
  EXPECT_TRUE(ref->spec == expected.spec);
  EXPECT_EQ(repo_id(*ref), expected.org + "/" + expected.name);
  EXPECT_EQ(describe(ref->spec), expected.description);
  EXPECT_EQ(fixed_revision(ref->spec), expected.revision);

  std::string printed = to_string(*ref);
  EXPECT_EQ(printed, expected.printed.empty() ? expected.text : expected.printed);
  auto reparsed = parse_kernel_ref(printed);
  ASSERT_TRUE(reparsed) << reparsed.error().message;
  EXPECT_TRUE(*reparsed == *ref);
}

INSTANTIATE_TEST_SUITE_P(
    Default, ValidRefTest,
    testing::Values(
        ValidRef{"kernels-community/activation", "kernels-community", "activation", DefaultSpec{},
                 "highest vN branch", std::nullopt, ""},
        ValidRef{"Org_1/Name.v2", "Org_1", "Name.v2", DefaultSpec{}, "highest vN branch",
                 std::nullopt, ""},
        ValidRef{"a/b", "a", "b", DefaultSpec{}, "highest vN branch", std::nullopt, ""},
        ValidRef{"_x/y_", "_x", "y_", DefaultSpec{}, "highest vN branch", std::nullopt, ""},
        ValidRef{"a-b.c_d/e-f.g_h", "a-b.c_d", "e-f.g_h", DefaultSpec{}, "highest vN branch",
                 std::nullopt, ""},
        ValidRef{std::string(47, 'o') + "/" + std::string(48, 'n'), std::string(47, 'o'),
                 std::string(48, 'n'), DefaultSpec{}, "highest vN branch", std::nullopt, ""}));

INSTANTIATE_TEST_SUITE_P(
    Major, ValidRefTest,
    testing::Values(ValidRef{"kernels-community/activation@1", "kernels-community", "activation",
                             MajorSpec{1}, "branch v1", "v1", ""},
                    ValidRef{"a/b@0", "a", "b", MajorSpec{0}, "branch v0", "v0", ""},
                    ValidRef{"a/b@12", "a", "b", MajorSpec{12}, "branch v12", "v12", ""},
                    ValidRef{"a/b@2147483647", "a", "b", MajorSpec{2147483647},
                             "branch v2147483647", "v2147483647", ""}));

INSTANTIATE_TEST_SUITE_P(
    Tag, ValidRefTest,
    testing::Values(ValidRef{"kernels-community/flash-attn3@1.2.3", "kernels-community",
                             "flash-attn3", tag("1.2.3"), "tag v1.2.3", "v1.2.3", ""},
                    ValidRef{"a/b@0.0.0", "a", "b", tag("0.0.0"), "tag v0.0.0", "v0.0.0", ""},
                    ValidRef{"a/b@1.3.0-rc.1", "a", "b", tag("1.3.0-rc.1"), "tag v1.3.0-rc.1",
                             "v1.3.0-rc.1", ""},
                    ValidRef{"a/b@1.2.3+build.5", "a", "b", tag("1.2.3+build.5"),
                             "tag v1.2.3+build.5", "v1.2.3+build.5", ""}));

INSTANTIATE_TEST_SUITE_P(
    Range, ValidRefTest,
    testing::Values(ValidRef{"a/b@^1.2", "a", "b", range("^1.2"), "highest release matching ^1.2",
                             std::nullopt, ""},
                    ValidRef{"a/b@~1.2", "a", "b", range("~1.2"), "highest release matching ~1.2",
                             std::nullopt, ""},
                    ValidRef{"a/b@>=1.2,<2", "a", "b", range(">=1.2,<2"),
                             "highest release matching >=1.2,<2", std::nullopt, ""},
                    ValidRef{"a/b@>=1.2, <2", "a", "b", range(">=1.2, <2"),
                             "highest release matching >=1.2, <2", std::nullopt, ""},
                    ValidRef{"a/b@=1.2.3", "a", "b", range("=1.2.3"),
                             "highest release matching =1.2.3", std::nullopt, ""},
                    ValidRef{"a/b@^0.0.3", "a", "b", range("^0.0.3"),
                             "highest release matching ^0.0.3", std::nullopt, ""},
                    ValidRef{"a/b@<2", "a", "b", range("<2"), "highest release matching <2",
                             std::nullopt, ""},
                    ValidRef{"a/b@>1.2.3-rc.1", "a", "b", range(">1.2.3-rc.1"),
                             "highest release matching >1.2.3-rc.1", std::nullopt, ""}));

INSTANTIATE_TEST_SUITE_P(
    Commit, ValidRefTest,
    testing::Values(ValidRef{"a/b@" + std::string(k_sha), "a", "b", CommitSpec{std::string(k_sha)},
                             "commit 0123456…", std::string(k_sha), ""},
                    ValidRef{"a/b@0123456789ABCDEF0123456789ABCDEF01234567", "a", "b",
                             CommitSpec{std::string(k_sha)}, "commit 0123456…", std::string(k_sha),
                             "a/b@" + std::string(k_sha)},
                    ValidRef{"a/b@" + std::string(40, '0'), "a", "b",
                             CommitSpec{std::string(40, '0')}, "commit 0000000…",
                             std::string(40, '0'), ""}));

INSTANTIATE_TEST_SUITE_P(
    Revision, ValidRefTest,
    testing::Values(
        ValidRef{"a/b@main", "a", "b", RevisionSpec{"main"}, "revision main", "main", ""},
        ValidRef{"a/b@v1", "a", "b", RevisionSpec{"v1"}, "revision v1", "v1", ""},
        ValidRef{"a/b@v1.2.3", "a", "b", RevisionSpec{"v1.2.3"}, "revision v1.2.3", "v1.2.3", ""},
        ValidRef{"a/b@v1.2", "a", "b", RevisionSpec{"v1.2"}, "revision v1.2", "v1.2", ""},
        ValidRef{"a/b@release/2026-01", "a", "b", RevisionSpec{"release/2026-01"},
                 "revision release/2026-01", "release/2026-01", ""},
        ValidRef{"a/b@refs/pr/1", "a", "b", RevisionSpec{"refs/pr/1"}, "revision refs/pr/1",
                 "refs/pr/1", ""},
        // Digit-led names that are not versions are branch or tag names.
        ValidRef{"a/b@1.2-rc", "a", "b", RevisionSpec{"1.2-rc"}, "revision 1.2-rc", "1.2-rc", ""},
        ValidRef{"a/b@2024-01-release", "a", "b", RevisionSpec{"2024-01-release"},
                 "revision 2024-01-release", "2024-01-release", ""},
        ValidRef{"a/b@0123abc", "a", "b", RevisionSpec{"0123abc"}, "revision 0123abc", "0123abc",
                 ""},
        ValidRef{"a/b@" + std::string(k_sha.substr(0, 39)), "a", "b",
                 RevisionSpec{std::string(k_sha.substr(0, 39))},
                 "revision " + std::string(k_sha.substr(0, 39)), std::string(k_sha.substr(0, 39)),
                 ""},
        ValidRef{"a/b@feature@home", "a", "b", RevisionSpec{"feature@home"},
                 "revision feature@home", "feature@home", ""},
        ValidRef{"a/b@a.b-c_d+e", "a", "b", RevisionSpec{"a.b-c_d+e"}, "revision a.b-c_d+e",
                 "a.b-c_d+e", ""},
        ValidRef{"a/b@" + std::string(255, 'x'), "a", "b", RevisionSpec{std::string(255, 'x')},
                 "revision " + std::string(255, 'x'), std::string(255, 'x'), ""}));

TEST(KernelRef, ToStringOfConstructedReferences) {
  EXPECT_EQ(to_string(KernelRef{"o", "n", DefaultSpec{}}), "o/n");
  EXPECT_EQ(to_string(KernelRef{"o", "n", MajorSpec{3}}), "o/n@3");
  EXPECT_EQ(to_string(KernelRef{"o", "n", tag("3.1.4-rc.1")}), "o/n@3.1.4-rc.1");
  EXPECT_EQ(to_string(KernelRef{"o", "n", RevisionSpec{"dev"}}), "o/n@dev");
  EXPECT_EQ(to_string(Spec{DefaultSpec{}}), "");
  EXPECT_EQ(to_string(Spec{CommitSpec{std::string(k_sha)}}), k_sha);
}

TEST(KernelRef, SpecsOfDifferentKindsDiffer) {
  auto major = value_or_throw(parse_kernel_ref("a/b@1"));
  auto revision = value_or_throw(parse_kernel_ref("a/b@v1"));
  EXPECT_EQ(fixed_revision(major.spec), fixed_revision(revision.spec));
  EXPECT_FALSE(major == revision);
  EXPECT_FALSE(value_or_throw(parse_kernel_ref("a/b")) == value_or_throw(parse_kernel_ref("a/c")));
}

TEST(KernelRef, RangeSpecMatchesLikeItsRange) {
  auto ref = value_or_throw(parse_kernel_ref("a/b@^1.2"));
  const auto& spec = std::get<RangeSpec>(ref.spec);
  EXPECT_TRUE(spec.range.matches(value_or_throw(parse_version("1.4.0"))));
  EXPECT_FALSE(spec.range.matches(value_or_throw(parse_version("2.0.0"))));
}

// ---------------------------------------------------------------------------------------------
// Invalid references

struct InvalidRef {
  std::string text;
  std::vector<std::string> fragments; // the message must contain each
  int caret;                          // offset the caret points at, -1 for no caret
};

void PrintTo(const InvalidRef& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class InvalidRefTest : public testing::TestWithParam<InvalidRef> {};

TEST_P(InvalidRefTest, FailsNamingInputProblemAndPlace) {
  const InvalidRef& expected = GetParam();
  auto ref = parse_kernel_ref(expected.text);
  ASSERT_FALSE(ref) << "parsed as " << to_string(*ref);
  EXPECT_EQ(ref.error().kind, ErrorKind::invalid_reference);
  const std::string& message = ref.error().message;
  bool printable = std::all_of(expected.text.begin(), expected.text.end(),
                               [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable) {
    EXPECT_TRUE(message.starts_with("invalid kernel reference \"" + expected.text + "\": "))
        << message;
    if (expected.caret >= 0) {
      EXPECT_NE(message.find("\n  " + expected.text + "\n"), std::string::npos) << message;
    }
  }
  for (const std::string& fragment : expected.fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos) << "no \"" << fragment << "\" in\n"
                                                         << message;
  }
  EXPECT_EQ(caret_offset(message), expected.caret) << message;
}

INSTANTIATE_TEST_SUITE_P(
    RepoId, InvalidRefTest,
    testing::Values(InvalidRef{"", {"it is empty", "org/name"}, -1},
                    InvalidRef{"activation", {"the org is missing", "org/name"}, -1},
                    InvalidRef{"activation@1", {"the org is missing"}, -1},
                    InvalidRef{"a/b/c", {"only one '/' is allowed"}, 3},
                    InvalidRef{"/b", {"the org is empty"}, 0},
                    InvalidRef{"a/", {"the kernel name is empty"}, 2},
                    InvalidRef{"a/@1", {"the kernel name is empty"}, 2},
                    InvalidRef{"kernels-community/rms$norm",
                               {"'$' is not allowed in the kernel name",
                                "letters, digits, '-', '_' and '.' are"},
                               21},
                    InvalidRef{"kernels community/x", {"a space is not allowed in the org"}, 7},
                    InvalidRef{"org/na:me", {"':' is not allowed in the kernel name"}, 6},
                    InvalidRef{
                        "org/na\xc3\xa9", {"'\xc3\xa9' is not allowed in the kernel name"}, 6},
                    InvalidRef{"org/a\x01z", {"control character 0x01", "\"org/a\\x01z\""}, 5},
                    InvalidRef{"-org/x", {"the org must not start with '-'"}, 0},
                    InvalidRef{".org/x", {"the org must not start with '.'"}, 0},
                    InvalidRef{"org-/x", {"the org must not end with '-'"}, 3},
                    InvalidRef{"org/x.", {"the kernel name must not end with '.'"}, 5},
                    InvalidRef{"org/-x", {"the kernel name must not start with '-'"}, 4},
                    InvalidRef{"org/a--b", {"'--' is not allowed in the kernel name"}, 5},
                    InvalidRef{"or..g/x", {"'..' is not allowed in the org"}, 2},
                    InvalidRef{"org/x.git", {"must not end with \".git\""}, 5},
                    InvalidRef{std::string(48, 'o') + "/" + std::string(48, 'n'),
                               {"97 characters long", "at most 96"},
                               96}));

INSTANTIATE_TEST_SUITE_P(
    VersionSpec, InvalidRefTest,
    testing::Values(
        InvalidRef{"a/b@", {"nothing follows '@'", "leave out the '@'"}, 4},
        InvalidRef{"a/b@1.2", {"@1.2.0 for the tag v1.2.0", "@^1.2", ">= 1.2 within major 1"}, 4},
        InvalidRef{
            "a/b@0.2", {"@0.2.0 for the tag v0.2.0", "@^0.2 for the newest 0.2.x release"}, 4},
        InvalidRef{"a/b@01", {"leading zero", "write @1"}, 4},
        InvalidRef{"a/b@00", {"leading zero", "write @0"}, 4},
        InvalidRef{"a/b@1.02.3", {"the minor version \"02\" has a leading zero"}, 6},
        InvalidRef{"a/b@1.2.3.4", {"neither @N", "@N.M.P"}, 4},
        InvalidRef{"a/b@1.", {"neither @N"}, 4},
        InvalidRef{"a/b@1.2.", {"the patch version is empty"}, 8},
        InvalidRef{"a/b@1.2.3-01", {"leading zero"}, 10},
        InvalidRef{"a/b@1.2.3-rc..1", {"empty pre-release identifier"}, 13},
        InvalidRef{"a/b@2147483648", {"too large"}, 4},
        InvalidRef{"a/b@>=1.2,", {"empty comparator after ','"}, 9},
        InvalidRef{"a/b@=>1.2", {"unknown operator \"=>\"", "^ ~ = > >= < <="}, 4},
        InvalidRef{"a/b@!=1.2", {"unknown operator \"!=\""}, 4},
        InvalidRef{"a/b@^1.x", {"'x' is not allowed in the minor version"}, 7},
        InvalidRef{"a/b@^", {"missing version after \"^\""}, 5}));

INSTANTIATE_TEST_SUITE_P(
    RevisionSpec, InvalidRefTest,
    testing::Values(InvalidRef{"a/b@ma..in", {"'..' is not allowed in a branch or tag name"}, 6},
                    InvalidRef{"a/b@main~1", {"'~' is not allowed in a branch or tag name"}, 8},
                    InvalidRef{"a/b@ma in", {"a space is not allowed"}, 6},
                    InvalidRef{"a/b@ main", {"a space is not allowed"}, 4},
                    InvalidRef{"a/b@a:b", {"':' is not allowed"}, 5},
                    InvalidRef{"a/b@a?b", {"'?' is not allowed"}, 5},
                    InvalidRef{"a/b@a*b", {"'*' is not allowed"}, 5},
                    InvalidRef{"a/b@a[b", {"'[' is not allowed"}, 5},
                    InvalidRef{"a/b@a\\b", {"'\\' is not allowed"}, 5},
                    InvalidRef{"a/b@a^b", {"'^' is not allowed"}, 5},
                    InvalidRef{"a/b@main\t", {"control character 0x09"}, 8},
                    InvalidRef{"a/b@main@{1}", {"'@{' is not allowed"}, 8},
                    InvalidRef{"a/b@@", {"'@' alone"}, 4},
                    InvalidRef{"a/b@-x", {"must not start with '-'"}, 4},
                    InvalidRef{"a/b@/x", {"must not start with '/'"}, 4},
                    InvalidRef{"a/b@x/", {"must not end with '/'"}, 5},
                    InvalidRef{"a/b@x.", {"must not end with '.'"}, 5},
                    InvalidRef{"a/b@x.lock", {"must not end with \".lock\""}, 5},
                    InvalidRef{"a/b@x.lock/y", {"must not end with \".lock\""}, 5},
                    InvalidRef{"a/b@x//y", {"'//' is not allowed"}, 5},
                    InvalidRef{"a/b@.x", {"must not start with '.'"}, 4},
                    InvalidRef{"a/b@x/.y", {"must not start with '.'"}, 6},
                    InvalidRef{"a/b@" + std::string(256, 'x'),
                               {"256 characters long", "at most 255"},
                               4 + 255}));

TEST(KernelRefErrors, CaretLineSitsUnderTheOffendingCharacter) {
  auto ref = parse_kernel_ref("kernels-community/rms$norm");
  ASSERT_FALSE(ref);
  EXPECT_EQ(ref.error().message,
            "invalid kernel reference \"kernels-community/rms$norm\": '$' is not allowed in the "
            "kernel name (letters, digits, '-', '_' and '.' are)\n"
            "  kernels-community/rms$norm\n"
            "                       ^");
}

TEST(ValidateRepoId, AcceptsHubNamesAndRejectsOthers) {
  EXPECT_TRUE(validate_repo_id("kernels-community/activation"));
  auto bad = validate_repo_id("kernels-community/act ivation");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_reference);
  EXPECT_TRUE(bad.error().message.starts_with("invalid repository id "));
  EXPECT_EQ(caret_offset(bad.error().message), 21);
  EXPECT_FALSE(validate_repo_id("kernels-community/activation@1"));
}

TEST(ValidateRevisionName, FollowsGitRules) {
  EXPECT_TRUE(validate_revision_name("main"));
  EXPECT_TRUE(validate_revision_name("refs/pr/3"));
  EXPECT_FALSE(validate_revision_name(""));
  auto bad = validate_revision_name("a..b");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().message.starts_with("invalid revision name \"a..b\""));
  EXPECT_EQ(caret_offset(bad.error().message), 1);
}

} // namespace
} // namespace kget::ref
