// The sm90 group (build.toml: capabilities 9.0a only): one warpgroup (128 threads) per 64 x 64
// tile of out, multiplying with the Hopper warpgroup MMA (wgmma, SASS HGMMA) straight from
// shared memory. The A and B tiles are staged in shared memory by cp.async, two stages deep, in
// the 128-byte-swizzled K-major layout wgmma's descriptors describe.
//
// wgmma exists on 9.0 only (the arch-specific target sm_90a); built for anything else, CuTe's
// wrappers compile to a trap. The builder compiles this file for the group's own targets only,
// so every instruction in it is real code.
#include "gemm_tiles.cuh"

#include <cutlass/arch/barrier.h>

namespace cutlass_groups {
namespace {

using namespace cute;

// K-major (both operands are K-contiguous in memory: a is (m, k), b is (n, k)), with the 128-byte
// swizzle wgmma reads without bank conflicts; one 64 x 64 float16 tile is 8 KiB per stage.
using SmemLayoutA = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<half_t>{},
                                           make_shape(TileM{}, TileK{}, Stages{})));
using SmemLayoutB = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<half_t>{},
                                           make_shape(TileN{}, TileK{}, Stages{})));

// The swizzle pattern repeats every 1024 bytes, and wgmma's descriptors assume tiles start on
// that boundary.
struct SharedStorage {
  alignas(1024) half_t a[cosize_v<SmemLayoutA>];
  alignas(1024) half_t b[cosize_v<SmemLayoutB>];
};

// One 64x64x16 wgmma atom covers the whole tile's M and N with the 128 threads; cute::gemm walks
// the 4 K-blocks of a stage.
using Mma = decltype(make_tiled_mma(SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>{}));

__global__ void __launch_bounds__(kThreads) gemm_sm90_kernel(const Params params) {
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
  // Shared-memory descriptors, one per K-block and stage: wgmma reads the operands from there.
  const Tensor a_descriptors = mma_slice.make_fragment_A(mma_slice.partition_A(a_stages));
  const Tensor b_descriptors = mma_slice.make_fragment_B(mma_slice.partition_B(b_stages));
  Tensor out_part = mma_slice.partition_C(tiles.out);
  Tensor accumulators = mma_slice.make_fragment_C(out_part);
  clear(accumulators);

  const int k_tiles = static_cast<int>(params.k / kTile);
  auto load = [&](int k_tile, int stage) {
    copy(gmem_copy, a_sources(_, _, _, k_tile), a_targets(_, _, _, stage));
    copy(gmem_copy, b_sources(_, _, _, k_tile), b_targets(_, _, _, stage));
    cp_async_fence();
  };
  if (k_tiles > 0) {
    load(0, 0);
  }
  for (int k_tile = 0; k_tile < k_tiles; ++k_tile) {
    const int stage = k_tile % Stages::value;
    if (k_tile + 1 < k_tiles) {
      load(k_tile + 1, stage ^ 1); // its stage was released by the barrier ending k_tile - 1
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    // cp.async writes through the generic proxy, wgmma reads through the async proxy: each
    // thread's writes must be fenced over before the barrier that hands them to the warpgroup.
    cutlass::arch::fence_view_async_shared();
    __syncthreads();

    warpgroup_fence_operand(accumulators);
    warpgroup_arrive();
    gemm(mma, a_descriptors(_, _, _, stage), b_descriptors(_, _, _, stage), accumulators);
    warpgroup_commit_batch();
    warpgroup_wait<0>();
    warpgroup_fence_operand(accumulators);
    // Every warp's wgmma has read the stage before the next iteration's cp.async overwrites it.
    __syncthreads();
  }
  copy(accumulators, out_part);
}

} // namespace

int launch_gemm_sm90(const GemmProblem& problem, kget_error* error) {
  return launch(gemm_sm90_kernel, problem, error);
}

} // namespace cutlass_groups
