// The table of block functions for the vector type S; included by each ISA file.
#pragma once

#include "flash_attn_block.h"
#include "flash_attn_table.h"

namespace kget_kernels::flash_attn3 {

template <class S>
constexpr IsaKernels make_isa_kernels() {
  // In DType order: float32 (not an input type of these ops), float16, bfloat16.
  return IsaKernels{{nullptr, &attend_block<S, f16_t>, &attend_block<S, bf16_t>}};
}

} // namespace kget_kernels::flash_attn3
