// One validated mha_fwd or mha_varlen_fwd call, as ops.cpp hands it to a backend (cpu/ now, a
// CUDA path later): pointers, strides, the per-sequence extents and the options, with every
// argument check already done. Both ops become the same problem: mha_fwd has batch strides and
// every sequence starts at token 0; mha_varlen_fwd has batch strides 0 and sequences that start
// at cu_seqlens[b].
#pragma once

#include "../common/storage_types.h"

#include <cstdint>
#include <vector>

namespace kget_kernels::flash_attn3 {

// Strides of a (batch, token, head, dim) tensor in elements; dim has stride 1.
struct TokenStrides {
  int64_t batch = 0;
  int64_t token = 0;
  int64_t head = 0;
};

struct AttentionProblem {
  DType dtype = DType::kBFloat16; // of q, k, v and out (float16 or bfloat16)
  int64_t batch = 0;
  int64_t heads_q = 0;
  int64_t heads_kv = 0; // heads_q is a multiple of it
  int64_t head_dim = 0; // 64, 128 or 256

  // Per sequence b: its first token in q/out (lse) and in k/v, and its lengths. mha_fwd: all
  // starts 0 and the lengths of the tensors.
  std::vector<int64_t> q_start;
  std::vector<int64_t> k_start;
  std::vector<int64_t> seqlen_q;
  std::vector<int64_t> seqlen_k;

  const char* q = nullptr;
  const char* k = nullptr;
  const char* v = nullptr;
  char* out = nullptr;
  float* lse = nullptr;
  TokenStrides q_strides;
  TokenStrides k_strides;
  TokenStrides v_strides;
  TokenStrides out_strides;
  TokenStrides lse_strides; // lse is (batch, head, token) or (head, token): strides by name

  float softmax_scale = 1.0f;
  float softcap = 0.0f;      // 0: off
  int64_t window_left = -1;  // -1: unbounded; causal is already folded into window_right = 0
  int64_t window_right = -1; // -1: unbounded

  void* stream = nullptr; // CUDA only
  int device = 0;         // CUDA only
};

} // namespace kget_kernels::flash_attn3
