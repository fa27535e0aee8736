#include "resolve/device_choice.hpp"

#include <gtest/gtest.h>

using namespace kget;
using namespace kget::resolve;

namespace {

TEST(DeviceChoice, Parses) {
  struct Case {
    const char* text;
    DeviceChoice::Kind kind;
    int ordinal;
  };
  for (const Case& c : {
           Case{"", DeviceChoice::Kind::automatic, 0},
           Case{"cpu", DeviceChoice::Kind::cpu, 0},
           Case{"cuda", DeviceChoice::Kind::cuda, 0},
           Case{"0", DeviceChoice::Kind::cuda, 0},
           Case{"3", DeviceChoice::Kind::cuda, 3},
           Case{"cuda:7", DeviceChoice::Kind::cuda, 7},
           Case{" cuda:1 ", DeviceChoice::Kind::cuda, 1},
       }) {
    auto choice = parse_device_choice(c.text);
    ASSERT_TRUE(choice) << c.text;
    EXPECT_EQ(choice->kind, c.kind) << c.text;
    EXPECT_EQ(choice->ordinal, c.ordinal) << c.text;
  }
}

TEST(DeviceChoice, RejectsMalformed) {
  for (const char* text : {"gpu", "cuda:", "cuda:-1", "-1", "cuda:x", "1.0", "cuda:99999", "CPU"}) {
    auto choice = parse_device_choice(text);
    ASSERT_FALSE(choice) << text;
    EXPECT_EQ(choice.error().kind, ErrorKind::invalid_setting);
    EXPECT_NE(choice.error().message.find("expected N or cuda:N"), std::string::npos);
  }
}

TEST(DeviceChoice, FromEnvironmentNamesTheVariable) {
  auto unset = device_choice_from(settings::Environment::from_map({}));
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->kind, DeviceChoice::Kind::automatic);
  auto set = device_choice_from(settings::Environment::from_map({{"KGET_DEVICE", "cuda:2"}}));
  ASSERT_TRUE(set);
  EXPECT_EQ(set->ordinal, 2);
  auto bad = device_choice_from(settings::Environment::from_map({{"KGET_DEVICE", "gpu0"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("KGET_DEVICE: device \"gpu0\""), 0u) << bad.error().message;
}

} // namespace
