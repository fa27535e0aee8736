// The sm80 group (build.toml: capability 8.0 with PTX): four warps (128 threads) per 64 x 64
// tile of out, multiplying with the warp-level mma.sync of Ampere and later (SASS HMMA
// 16816.F32) from registers. The A and B tiles are staged in shared memory by cp.async, two
// stages deep, in a swizzled K-major layout that ldmatrix reads without bank conflicts.
//
// Everything here exists from 8.0 on; the PTX of compute_80 lets the driver compile it for any
// later GPU, which is what the dispatcher falls back to where the sm90 group has no code.
#include "gemm_tiles.cuh"

namespace cutlass_groups {
namespace {

using namespace cute;

// Rows of 64 float16 (128 bytes); the XOR swizzle spreads the eight 16-byte chunks of each row
// over the banks so that ldmatrix's eight row addresses never collide.
using SmemAtom =
    decltype(composition(Swizzle<3, 3, 3>{}, Layout<Shape<_8, TileK>, Stride<TileK, _1>>{}));
using SmemLayoutA = decltype(tile_to_shape(SmemAtom{}, make_shape(TileM{}, TileK{}, Stages{})));
using SmemLayoutB = decltype(tile_to_shape(SmemAtom{}, make_shape(TileN{}, TileK{}, Stages{})));

struct SharedStorage {
  alignas(128) half_t a[cosize_v<SmemLayoutA>];
  alignas(128) half_t b[cosize_v<SmemLayoutB>];
};

// 2 x 2 warps of 16x8x16 atoms, each warp covering 16 x 16 of a 32 x 32 block (so that one
// ldmatrix.x4 feeds two atoms of B); the block repeats 2 x 2 over the 64 x 64 tile.
using Mma = decltype(make_tiled_mma(SM80_16x8x16_F32F16F16F32_TN{}, Layout<Shape<_2, _2, _1>>{},
                                    Tile<_32, _32, _16>{}));
using SmemCopyAtom = Copy_Atom<SM75_U32x4_LDSM_N, half_t>;

__global__ void __launch_bounds__(kThreads) gemm_sm80_kernel(const Params params) {
  __shared__ SharedStorage storage;
  const int thread = static_cast<int>(threadIdx.x);
  const auto tiles = block_tiles(params);

  Tensor a_stages = make_tensor(make_smem_ptr(storage.a), SmemLayoutA{});
  Tensor b_stages = make_tensor(make_smem_ptr(storage.b), SmemLayoutB{});

  GmemCopy gmem_copy;
  const auto copy_slice = gmem_copy.get_slice(thread);
  const Tensor a_sources = copy_slice.partition_S(tiles.a); // (copy, rows, columns, k tile)
  const Tensor b_sources = copy_slice.partition_S(tiles.b);
  Tensor a_targets = copy_slice.partition_D(a_stages); // (copy, rows, columns, stage)
  Tensor b_targets = copy_slice.partition_D(b_stages);

  Mma mma;
  const auto mma_slice = mma.get_slice(thread);
  Tensor a_registers = mma_slice.partition_fragment_A(a_stages(_, _, 0)); // (mma, m, k block)
  Tensor b_registers = mma_slice.partition_fragment_B(b_stages(_, _, 0));
  Tensor out_part = mma_slice.partition_C(tiles.out);
  Tensor accumulators = mma_slice.make_fragment_C(out_part);
  clear(accumulators);

  // Shared memory to the registers of the MMA's operand layout, by ldmatrix.
  const auto a_smem_copy = make_tiled_copy_A(SmemCopyAtom{}, mma);
  const auto b_smem_copy = make_tiled_copy_B(SmemCopyAtom{}, mma);
  const auto a_smem_slice = a_smem_copy.get_slice(thread);
  const auto b_smem_slice = b_smem_copy.get_slice(thread);
  const Tensor a_smem = a_smem_slice.partition_S(a_stages); // (copy, m, k block, stage)
  const Tensor b_smem = b_smem_slice.partition_S(b_stages);
  Tensor a_loaded = a_smem_slice.retile_D(a_registers);
  Tensor b_loaded = b_smem_slice.retile_D(b_registers);

  const int k_tiles = static_cast<int>(params.k / kTile);
  auto load = [&](int k_tile, int stage) {
    copy(gmem_copy, a_sources(_, _, _, k_tile), a_targets(_, _, _, stage));
    copy(gmem_copy, b_sources(_, _, _, k_tile), b_targets(_, _, _, stage));
    cp_async_fence();
  };
  if (k_tiles > 0) {
    load(0, 0);
  }
  constexpr int kBlocks = decltype(size<2>(a_registers))::value; // 16-wide K blocks per tile
  for (int k_tile = 0; k_tile < k_tiles; ++k_tile) {
    const int stage = k_tile % Stages::value;
    if (k_tile + 1 < k_tiles) {
      load(k_tile + 1, stage ^ 1); // its stage was released by the barrier ending k_tile - 1
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
#pragma unroll
    for (int block = 0; block < kBlocks; ++block) {
      copy(a_smem_copy, a_smem(_, _, block, stage), a_loaded(_, _, block));
      copy(b_smem_copy, b_smem(_, _, block, stage), b_loaded(_, _, block));
      gemm(mma, a_registers(_, _, block), b_registers(_, _, block), accumulators);
    }
    // Every warp has read the stage before the next iteration's cp.async overwrites it.
    __syncthreads();
  }
  copy(accumulators, out_part);
}

} // namespace

int launch_gemm_sm80(const GemmProblem& problem, kget_error* error) {
  return launch(gemm_sm80_kernel, problem, error);
}

} // namespace cutlass_groups
