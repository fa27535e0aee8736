// DLPack dtypes of the kernels and scalar float16/bfloat16 <-> float32 conversions.
//
// Baseline code only (ops glue, scalar paths, tests): the AVX2/AVX-512 translation units convert
// with their own vector instructions and must not include this header (see storage_types.h).
#pragma once

#include "storage_types.h"

#include <cstdint>
#include <cstring>
#include <kget/kernel_abi.h>

namespace kget_kernels {

// The DType of a DLPack dtype, or false when the kernels do not implement it.
inline bool dtype_from_dlpack(DLDataType dtype, DType* out) {
  if (kget_dtype_is(dtype, kDLFloat, 32)) {
    *out = DType::kFloat32;
  } else if (kget_dtype_is(dtype, kDLFloat, 16)) {
    *out = DType::kFloat16;
  } else if (kget_dtype_is(dtype, kDLBfloat, 16)) {
    *out = DType::kBFloat16;
  } else {
    return false;
  }
  return true;
}

inline const char* dtype_name(DType dtype) {
  switch (dtype) {
  case DType::kFloat32:
    return "float32";
  case DType::kFloat16:
    return "float16";
  case DType::kBFloat16:
    return "bfloat16";
  }
  return "unknown";
}

inline int64_t dtype_size(DType dtype) {
  return dtype == DType::kFloat32 ? 4 : 2;
}

inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// binary16 -> binary32 is exact. NaNs stay NaN with their payload, quieted (as F16C does).
inline float f16_to_f32(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1fu) {
    const uint32_t quiet = mantissa != 0 ? 0x00400000u : 0u;
    return bits_float(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  if (exponent != 0) {
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

// binary32 -> binary16, rounding to nearest even; overflow gives infinity, NaN a quiet NaN.
inline uint16_t f32_to_f16(float value) {
  const uint32_t bits = float_bits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x477ff000u) { // >= 65520, the midpoint above the largest half (65504)
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (magnitude >= 0x38800000u) { // a normal half (>= 2^-14): rebias, round off 13 bits
    const uint32_t rebiased = magnitude - (112u << 23);
    const uint32_t rounded = rebiased + 0xfffu + ((rebiased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  // A subnormal half or zero: round |value| * 2^24 = m * 2^(e - 126) to an integer.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t shift = 126u - exponent; // >= 14 here
  if (exponent == 0 || shift > 24u) {     // below 2^-25, at most half the smallest subnormal
    return sign;
  }
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  uint32_t quotient = significand >> shift;
  const uint32_t remainder = significand & ((1u << shift) - 1u);
  const uint32_t half_way = 1u << (shift - 1u);
  if (remainder > half_way || (remainder == half_way && (quotient & 1u))) {
    ++quotient;
  }
  return static_cast<uint16_t>(sign | quotient);
}

inline float bf16_to_f32(uint16_t bf16) {
  return bits_float(static_cast<uint32_t>(bf16) << 16);
}

// binary32 -> bfloat16, rounding to nearest even; NaN gives a quiet NaN.
inline uint16_t f32_to_bf16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  }
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

} // namespace kget_kernels
