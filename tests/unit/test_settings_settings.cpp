#include "settings/settings.hpp"

#include <gtest/gtest.h>
#include <set>

using namespace kget::settings;

namespace {

TEST(Settings, EveryIdIsDeclaredOnceWithADescription) {
  std::set<Id> ids;
  std::set<std::string_view> names;
  for (const auto& setting : all()) {
    EXPECT_TRUE(ids.insert(setting.id).second) << setting.name;
    EXPECT_TRUE(names.insert(setting.name).second) << setting.name;
    EXPECT_EQ(setting.name.substr(0, 5), "KGET_") << setting.name;
    EXPECT_GT(setting.description.size(), 10u) << setting.name;
    EXPECT_EQ(&describe(setting.id), &setting);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(Id::log) + 1) << "an Id has no row in the table";
}

TEST(Settings, OwnVariableThenFallbacksThenDefault) {
  auto both = Environment::from_map(
      {{"KGET_ENDPOINT", "http://127.0.0.1:1"}, {"HF_ENDPOINT", "https://mirror.example"}});
  auto value = lookup(Id::endpoint, both);
  EXPECT_EQ(value.value, "http://127.0.0.1:1");
  EXPECT_EQ(value.source, "KGET_ENDPOINT");
  EXPECT_TRUE(value.is_set);

  auto fallback = lookup(Id::endpoint, Environment::from_map({{"HF_ENDPOINT", "https://m"}}));
  EXPECT_EQ(fallback.value, "https://m");
  EXPECT_EQ(fallback.source, "HF_ENDPOINT");

  auto defaulted = lookup(Id::endpoint, Environment::from_map({}));
  EXPECT_EQ(defaulted.value, "https://huggingface.co");
  EXPECT_EQ(defaulted.source, "default");
  EXPECT_FALSE(defaulted.is_set);

  auto unset = lookup(Id::mirrors, Environment::from_map({}));
  EXPECT_EQ(unset.value, "");
  EXPECT_EQ(unset.source, "unset");
}

TEST(Settings, CacheFallbackOrder) {
  auto env = Environment::from_map({{"HF_HUB_CACHE", "/c"}, {"KERNELS_CACHE", "/k"}});
  EXPECT_EQ(lookup(Id::cache, env).source, "KERNELS_CACHE");
  EXPECT_EQ(lookup(Id::cache, Environment::from_map({{"HF_HUB_CACHE", "/c"}})).value, "/c");
}

TEST(Settings, EmptyValueCountsAsSet) {
  auto value = lookup(Id::offline, Environment::from_map({{"KGET_OFFLINE", ""}}));
  EXPECT_TRUE(value.is_set);
  EXPECT_EQ(value.value, "");
}

TEST(Settings, TokenIsSecret) {
  EXPECT_TRUE(describe(Id::token).secret);
  EXPECT_FALSE(describe(Id::endpoint).secret);
}

TEST(Environment, ProcessReadsTheRealEnvironment) {
  setenv("KGET_TEST_ONLY_VARIABLE", "value", 1);
  EXPECT_EQ(Environment::process().get("KGET_TEST_ONLY_VARIABLE"), "value");
  unsetenv("KGET_TEST_ONLY_VARIABLE");
  EXPECT_FALSE(Environment::process().get("KGET_TEST_ONLY_VARIABLE"));
}

} // namespace
