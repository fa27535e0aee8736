#include "flash_attn_cpu.h"

#include "../../common/cpu_features.h"
#include "../../common/parallel.h"
#include "../../common/tensor_args.h"
#include "flash_attn_table.h"

#include <algorithm>
#include <vector>

namespace kget_kernels::flash_attn3 {
namespace {

int choose_kernel(DType dtype, BlockFn* kernel, kget_error* error) {
  CpuIsa isa = CpuIsa::kScalar;
  KGET_KERNEL_CHECK(resolve_cpu_isa(&isa, error));
  const IsaKernels* table = &scalar_kernels();
#ifdef KGET_KERNELS_HAVE_AVX2
  if (isa == CpuIsa::kAvx2) {
    table = &avx2_kernels();
  }
#endif
#ifdef KGET_KERNELS_HAVE_AVX512
  if (isa == CpuIsa::kAvx512) {
    table = &avx512_kernels();
  }
#endif
  *kernel = table->by_dtype[static_cast<int>(dtype)];
  return *kernel ? KGET_KERNEL_OK
                 : kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL, "no CPU path for this dtype");
}

// A block before its pointers are set: sequence, KV head, first query head of the group, how
// many heads, first position, how many positions.
struct BlockIndex {
  int64_t sequence;
  int64_t kv_head;
  int64_t group_head;
  int64_t heads;
  int64_t pos0;
  int64_t npos;
};

// The query heads of one KV head (GQA/MQA) go into one block with as many positions as fit in
// kBlockRows rows, so that each K/V block is converted once for all of them.
std::vector<BlockIndex> cut_blocks(const AttentionProblem& problem) {
  const int64_t group = problem.heads_q / problem.heads_kv;
  const int64_t heads_per_block = std::min(group, kBlockRows);
  const int64_t positions_per_block = std::max<int64_t>(1, kBlockRows / heads_per_block);
  std::vector<BlockIndex> blocks;
  for (int64_t b = 0; b < problem.batch; ++b) {
    const int64_t seqlen_q = problem.seqlen_q[static_cast<size_t>(b)];
    for (int64_t kv = 0; kv < problem.heads_kv; ++kv) {
      for (int64_t g = 0; g < group; g += heads_per_block) {
        for (int64_t pos = 0; pos < seqlen_q; pos += positions_per_block) {
          blocks.push_back({b, kv, g, std::min(heads_per_block, group - g), pos,
                            std::min(positions_per_block, seqlen_q - pos)});
        }
      }
    }
  }
  return blocks;
}

BlockTask make_task(const AttentionProblem& problem, const BlockIndex& index) {
  const int64_t element = 2; // float16 and bfloat16
  const auto b = static_cast<size_t>(index.sequence);
  const int64_t group = problem.heads_q / problem.heads_kv;
  const int64_t head = index.kv_head * group + index.group_head;
  const int64_t q_token0 = problem.q_start[b];
  const int64_t k_token0 = problem.k_start[b];
  BlockTask task;
  task.q = problem.q + (index.sequence * problem.q_strides.batch +
                        q_token0 * problem.q_strides.token + head * problem.q_strides.head) *
                           element;
  task.k =
      problem.k + (index.sequence * problem.k_strides.batch + k_token0 * problem.k_strides.token +
                   index.kv_head * problem.k_strides.head) *
                      element;
  task.v =
      problem.v + (index.sequence * problem.v_strides.batch + k_token0 * problem.v_strides.token +
                   index.kv_head * problem.v_strides.head) *
                      element;
  task.out =
      problem.out + (index.sequence * problem.out_strides.batch +
                     q_token0 * problem.out_strides.token + head * problem.out_strides.head) *
                        element;
  task.lse = problem.lse + index.sequence * problem.lse_strides.batch +
             q_token0 * problem.lse_strides.token + head * problem.lse_strides.head;
  task.q_token_stride = problem.q_strides.token;
  task.q_head_stride = problem.q_strides.head;
  task.k_token_stride = problem.k_strides.token;
  task.v_token_stride = problem.v_strides.token;
  task.out_token_stride = problem.out_strides.token;
  task.out_head_stride = problem.out_strides.head;
  task.lse_token_stride = problem.lse_strides.token;
  task.lse_head_stride = problem.lse_strides.head;
  task.pos0 = index.pos0;
  task.npos = index.npos;
  task.heads = index.heads;
  task.seqlen_q = problem.seqlen_q[b];
  task.seqlen_k = problem.seqlen_k[b];
  task.head_dim = problem.head_dim;
  task.softmax_scale = problem.softmax_scale;
  task.softcap = problem.softcap;
  task.window_left = problem.window_left;
  task.window_right = problem.window_right;
  return task;
}

} // namespace

int run_cpu(const AttentionProblem& problem, kget_error* error) {
  BlockFn kernel = nullptr;
  KGET_KERNEL_CHECK(choose_kernel(problem.dtype, &kernel, error));
  if (problem.batch == 0 || problem.heads_q == 0) {
    return KGET_KERNEL_OK;
  }
  const std::vector<BlockIndex> blocks = cut_blocks(problem);
  if (blocks.empty()) {
    return KGET_KERNEL_OK;
  }
  int64_t longest_k = 1;
  for (const int64_t seqlen : problem.seqlen_k) {
    longest_k = std::max(longest_k, seqlen);
  }
  const auto count = static_cast<int64_t>(blocks.size());
  auto range = [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(scratch_floats(problem.head_dim)));
    for (int64_t i = begin; i < end; ++i) {
      kernel(make_task(problem, blocks[static_cast<size_t>(i)]), scratch.data());
    }
  };
  // A block's work is about kBlockRows x keys x head_dim multiply-adds, twice.
  parallel_for(count, parallel_grain(count, kBlockRows * longest_k * problem.head_dim), range);
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels::flash_attn3
