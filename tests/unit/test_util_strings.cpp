#include "util/fs.hpp"
#include "util/result.hpp"
#include "util/strings.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace kget;
using namespace kget::util;

namespace {

TEST(Strings, Split) {
  EXPECT_EQ(split("a,b,,c", ','), (std::vector<std::string_view>{"a", "b", "", "c"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string_view>{""}));
  EXPECT_EQ(split("abc", ','), (std::vector<std::string_view>{"abc"}));
}

TEST(Strings, ParseUint) {
  EXPECT_EQ(parse_uint("0"), 0);
  EXPECT_EQ(parse_uint("123456789"), 123456789);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1a", "1234567890", "0x10"}) {
    EXPECT_FALSE(parse_uint(bad)) << bad;
  }
}

TEST(Strings, MajorMinorAndDotted) {
  EXPECT_EQ(parse_major_minor("12.8"), (MajorMinor{12, 8}));
  EXPECT_FALSE(parse_major_minor("12"));
  EXPECT_FALSE(parse_major_minor("12.8.1"));
  EXPECT_FALSE(parse_major_minor("12."));
  EXPECT_LT((MajorMinor{12, 9}), (MajorMinor{13, 0}));
  EXPECT_EQ(parse_dotted("3.4.30"), (std::vector<int>{3, 4, 30}));
  EXPECT_FALSE(parse_dotted("3..4"));
  EXPECT_EQ(format_dotted({2, 2, 5}), "2.2.5");
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(join({"a", "b"}, ", "), "a, b");
}

TEST(Result, ValueOrThrowRaisesTheOneErrorType) {
  Result<int> bad = fail(ErrorKind::not_found, "kernel {} not found", "x/y");
  try {
    value_or_throw(std::move(bad));
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::not_found);
    EXPECT_STREQ(error.what(), "kernel x/y not found");
    EXPECT_STREQ(to_string(error.kind()), "not_found");
  }
  EXPECT_EQ(value_or_throw(Result<int>(7)), 7);
}

TEST(ReadFile, ErrorsNameTheCause) {
  auto missing = read_file("/nonexistent/file");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);
  auto directory = read_file("/tmp");
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message.find("it is a directory"), std::string::npos);
  auto too_big = read_file("/proc/self/exe", 16);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().kind, ErrorKind::io);
  auto ok = read_file(KGET_FIXTURES_DIR "/kernels/demo/README.md");
  ASSERT_TRUE(ok);
  EXPECT_NE(ok->find("resolver"), std::string::npos);
}

} // namespace

namespace {

TEST(ReadFile, FifoIsRefusedWithoutBlocking) {
  std::string path = "/tmp/kget-test-fifo-" + std::to_string(getpid());
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  auto result = read_file(path);
  unlink(path.c_str());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("it is not a regular file"), std::string::npos);
}

} // namespace
