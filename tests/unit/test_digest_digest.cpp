#include "digest/digest.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

using namespace kget;
using kget::testing::TempDir;

namespace {

TEST(Digest, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(digest::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest::sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 31 + 7);
  }
  digest::Hasher hasher(digest::Algorithm::sha256);
  for (size_t at = 0; at < data.size(); at += 4099) {
    hasher.update(std::string_view(data).substr(at, 4099));
  }
  EXPECT_EQ(hasher.finish_hex(), digest::sha256_hex(data));
}

TEST(Digest, GitBlobIdsMatchGit) {
  // `git hash-object` of an empty file and of "hello\n".
  digest::GitBlobHasher empty(0);
  EXPECT_EQ(empty.finish_hex(), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  digest::GitBlobHasher hello(6);
  hello.update("hello\n");
  EXPECT_EQ(hello.finish_hex(), "ce013625030ba8dba906f756967f9e9ca394464a");
}

TEST(Digest, HashFileGivesSizeSha256AndGitOid) {
  TempDir dir;
  kget::testing::write_file(dir.path() / "hello.txt", "hello\n");
  auto digests = digest::hash_file(dir.path() / "hello.txt");
  ASSERT_TRUE(digests) << digests.error().message;
  EXPECT_EQ(digests->size, 6u);
  EXPECT_EQ(digests->sha256, digest::sha256_hex("hello\n"));
  EXPECT_EQ(digests->git_oid, "ce013625030ba8dba906f756967f9e9ca394464a");

  auto missing = digest::hash_file(dir.path() / "absent");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  auto directory = digest::hash_file(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().kind, ErrorKind::io);
}

TEST(Digest, Sha512AndBase64) {
  TempDir dir;
  kget::testing::write_file(dir.path() / "abc", "abc");
  auto sha512 = digest::hash_file_hex(dir.path() / "abc", digest::Algorithm::sha512);
  ASSERT_TRUE(sha512);
  EXPECT_EQ(sha512->substr(0, 32), "ddaf35a193617abacc417349ae204131");
  EXPECT_EQ(sha512->size(), 128u);
  // The form of metadata.json's digest.files: `echo -n abc | openssl dgst -sha256 -binary |
  // base64`.
  EXPECT_EQ(digest::hex_to_base64(digest::sha256_hex("abc")),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(digest::hex_to_base64("ff"), "/w==");
  EXPECT_EQ(digest::hex_to_base64("ffee"), "/+4=");
  EXPECT_EQ(digest::hex_to_base64(""), "");
}

TEST(Digest, LowerHex) {
  EXPECT_TRUE(digest::is_lower_hex("0123456789abcdef", 16));
  EXPECT_FALSE(digest::is_lower_hex("0123456789ABCDEF", 16));
  EXPECT_FALSE(digest::is_lower_hex("0123", 16));
  EXPECT_FALSE(digest::is_lower_hex("012g", 4));
}

} // namespace
