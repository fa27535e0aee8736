// The scalar float16/bfloat16 conversions of kernels/common/dtype.h (the portable path's loads
// and stores, and the tests' own) against independent references: the compiler's _Float16 and a
// brute-force nearest-even search for bfloat16.
#include "common/dtype.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <random>

namespace {

using kget_kernels::bf16_to_f32;
using kget_kernels::bits_float;
using kget_kernels::f16_to_f32;
using kget_kernels::f32_to_bf16;
using kget_kernels::f32_to_f16;
using kget_kernels::float_bits;

#if defined(__FLT16_MAX__)
uint16_t reference_f16_bits(float value) {
  const _Float16 half = static_cast<_Float16>(value);
  uint16_t bits;
  std::memcpy(&bits, &half, sizeof bits);
  return bits;
}

TEST(ScalarConversions, EveryFloat16WidensExactly) {
  for (uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    _Float16 half;
    const uint16_t raw = static_cast<uint16_t>(bits);
    std::memcpy(&half, &raw, sizeof half);
    const float expected = static_cast<float>(half);
    const float got = f16_to_f32(raw);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
    } else {
      ASSERT_EQ(float_bits(got), float_bits(expected)) << std::hex << bits;
    }
  }
}

TEST(ScalarConversions, FloatNarrowsToFloat16LikeTheCompiler) {
  // Every float16 value, the midpoints between neighbours (ties) and their neighbours, then
  // random float bits.
  for (uint32_t bits = 0; bits < 0x7c00u; ++bits) {
    const float low = f16_to_f32(static_cast<uint16_t>(bits));
    const float high = f16_to_f32(static_cast<uint16_t>(bits + 1));
    const float middle = static_cast<float>((static_cast<double>(low) + high) / 2);
    for (const float value :
         {low, middle, std::nextafter(middle, 0.0f), std::nextafter(middle, 1e9f)}) {
      for (const float signed_value : {value, -value}) {
        ASSERT_EQ(f32_to_f16(signed_value), reference_f16_bits(signed_value))
            << signed_value << " (" << std::hex << float_bits(signed_value) << ")";
      }
    }
  }
  std::mt19937 random(7);
  for (int i = 0; i < 2000000; ++i) {
    const float value = bits_float(static_cast<uint32_t>(random()));
    if (std::isnan(value)) {
      ASSERT_EQ(f32_to_f16(value) & 0x7e00u, 0x7e00u) << "a quiet NaN";
      continue;
    }
    ASSERT_EQ(f32_to_f16(value), reference_f16_bits(value)) << value;
  }
}
#endif

// The bfloat16 nearest to `value`, ties to the even one, by comparing the two candidates.
uint16_t reference_bf16_bits(float value) {
  const uint32_t bits = float_bits(value);
  const uint16_t down = static_cast<uint16_t>(bits >> 16);
  const uint16_t up = static_cast<uint16_t>(down + 1);
  const double low = bf16_to_f32(down);
  const double high = bf16_to_f32(up); // may be infinity, or a NaN past the largest value
  const double exact = value;
  if ((bits & 0xffffu) == 0) {
    return down;
  }
  if (std::isnan(high) || std::isinf(high)) {
    // Past the largest finite bfloat16, the next value up is infinity: round to it beyond the
    // midpoint, half a unit (2^(e - 8), 8 significant bits) above the magnitude of `low`.
    const double midpoint = std::fabs(low) + std::ldexp(1.0, std::ilogb(low) - 8);
    const double magnitude = std::fabs(exact);
    return magnitude < midpoint || (magnitude == midpoint && (down & 1u) == 0)
               ? down
               : static_cast<uint16_t>((down & 0x8000u) | 0x7f80u);
  }
  const double to_low = std::fabs(exact - low);
  const double to_high = std::fabs(high - exact);
  if (to_low != to_high) {
    return to_low < to_high ? down : up;
  }
  return (down & 1u) == 0 ? down : up;
}

TEST(ScalarConversions, FloatNarrowsToBfloat16NearestEven) {
  std::mt19937 random(11);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = static_cast<uint32_t>(random());
    if (i % 4 == 0) {
      bits = (bits & 0xffff0000u) | 0x8000u; // an exact tie
    }
    const float value = bits_float(bits);
    if (std::isnan(value)) {
      const uint16_t got = f32_to_bf16(value);
      ASSERT_TRUE(std::isnan(bf16_to_f32(got))) << std::hex << bits;
      ASSERT_NE(got & 0x40u, 0u) << "quiet";
      continue;
    }
    ASSERT_EQ(f32_to_bf16(value), reference_bf16_bits(value)) << std::hex << bits;
  }
  EXPECT_EQ(f32_to_bf16(bits_float(0x7f7fffffu)), 0x7f80u) << "FLT_MAX rounds to infinity";
  EXPECT_EQ(f32_to_bf16(bits_float(0x7f7f7fffu)), 0x7f7fu);
  EXPECT_EQ(f32_to_bf16(bits_float(0x00008000u)), 0x0000u) << "tie to even (0)";
  EXPECT_EQ(f32_to_bf16(bits_float(0x00018000u)), 0x0002u) << "tie to even (2)";
}

} // namespace
