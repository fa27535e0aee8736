#include "resolve/cuda_drivers.hpp"

#include <gtest/gtest.h>

using namespace kget::resolve;

namespace {

TEST(CudaDrivers, Tables) {
  EXPECT_EQ(minor_compat_min_release({11, 8}), "450.80.02");
  EXPECT_EQ(minor_compat_min_release({12, 9}), "525.60.13");
  EXPECT_EQ(minor_compat_min_release({13, 0}), "580.65.06");
  EXPECT_EQ(minor_compat_min_release({14, 0}), "");
  EXPECT_EQ(toolkit_driver_release({12, 8}), "570.26");
  EXPECT_EQ(toolkit_driver_release({12, 7}), "");
}

} // namespace
