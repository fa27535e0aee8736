// Per-ISA tables of the attention block function. Types and declarations only, so that the ISA
// files can include it (see common/simd_avx2.h).
#pragma once

#include "../../common/storage_types.h"

#include <cstdint>

namespace kget_kernels::flash_attn3 {

// Query rows (heads x positions) and keys per block of the online softmax.
constexpr int64_t kBlockRows = 64;
constexpr int64_t kBlockKeys = 64;

// One unit of work: `heads` consecutive query heads that share one KV head, at query positions
// [pos0, pos0 + npos) of one sequence, against all keys of that sequence. Row r of the block is
// head r / npos, position pos0 + r % npos (heads * npos <= kBlockRows). Pointers are at the
// sequence's first token and the block's first head (k, v: its KV head); strides in elements.
struct BlockTask {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  float* lse = nullptr;
  int64_t q_token_stride = 0;
  int64_t q_head_stride = 0;
  int64_t k_token_stride = 0;
  int64_t v_token_stride = 0;
  int64_t out_token_stride = 0;
  int64_t out_head_stride = 0;
  int64_t lse_token_stride = 0;
  int64_t lse_head_stride = 0;
  int64_t pos0 = 0;
  int64_t npos = 0;
  int64_t heads = 0;
  int64_t seqlen_q = 0;
  int64_t seqlen_k = 0;
  int64_t head_dim = 0; // a multiple of 64
  float softmax_scale = 1.0f;
  float softcap = 0.0f;
  int64_t window_left = -1;
  int64_t window_right = -1;
};

// Floats of scratch one block needs (flash_attn_block.h): Q and O of the rows, K and V of the
// keys, one row of scores, and the running max and sum per row.
constexpr int64_t scratch_floats(int64_t head_dim) {
  return 2 * kBlockRows * head_dim + 2 * kBlockKeys * head_dim + kBlockKeys + 2 * kBlockRows;
}

using BlockFn = void (*)(const BlockTask& task, float* scratch);

// Indexed by DType; the float32 slot is empty (the ops take float16 and bfloat16 only).
struct IsaKernels {
  BlockFn by_dtype[kNumDTypes];
};

// One table per compiled path: flash_attn_scalar.cpp, flash_attn_avx2.cpp, flash_attn_avx512.cpp.
const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();

} // namespace kget_kernels::flash_attn3
