// The sm90 group (build.toml: capabilities 9.0a only): one warpgroup (128 threads) per 64 x 64
// tile of out, multiplying with the Hopper warpgroup MMA (wgmma, SASS HGMMA) straight from
// shared memory. The A and B tiles are staged in shared memory by cp.async, two stages deep, in
// the 128-byte-swizzled K-major layout wgmma's descriptors describe.
//
// wgmma exists on 9.0 only (the arch-specific target sm_90a); built for anything else, CuTe's
// wrappers compile to a trap. The builder compiles this file for the group's own targets only,
// so every instruction in it is real code.
#include "common/cuda_common.cuh"
#include "gemm.h"

// cute/tensor.hpp brings the copy and MMA atoms in the order they need; including an atom header
// before it does not compile.
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>

namespace cutlass_groups {
namespace {

using namespace cute;

using TileM = Int<kTile>;
using TileN = Int<kTile>;
using TileK = Int<kTile>;
using Stages = Int<2>;

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

// 128 threads, each moving 16 bytes (8 float16) per cp.async: 16 rows x 64 columns per pass.
using GmemCopy =
    decltype(make_tiled_copy(Copy_Atom<SM80_CP_ASYNC_CACHEGLOBAL<uint128_t>, half_t>{},
                             Layout<Shape<_16, _8>, Stride<_8, _1>>{}, Layout<Shape<_1, _8>>{}));

// One 64x64x16 wgmma atom covers the whole tile's M and N with the 128 threads; cute::gemm walks
// the 4 K-blocks of a stage.
using Mma = decltype(make_tiled_mma(SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>{}));

constexpr int kThreads = 128;

struct Params {
  int64_t m;
  int64_t n;
  int64_t k;
  float* out;
  const half_t* a;
  const half_t* b;
};

__global__ void __launch_bounds__(kThreads) gemm_sm90_kernel(const Params params) {
  __shared__ SharedStorage storage;
  const int thread = static_cast<int>(threadIdx.x);
  const int64_t tiles_n = params.n / kTile;
  const int64_t tile_m = static_cast<int64_t>(blockIdx.x) / tiles_n;
  const int64_t tile_n = static_cast<int64_t>(blockIdx.x) % tiles_n;

  const Tensor a = make_tensor(make_gmem_ptr(params.a), make_shape(params.m, params.k),
                               make_stride(params.k, Int<1>{}));
  const Tensor b = make_tensor(make_gmem_ptr(params.b), make_shape(params.n, params.k),
                               make_stride(params.k, Int<1>{}));
  Tensor out = make_tensor(make_gmem_ptr(params.out), make_shape(params.m, params.n),
                           make_stride(params.n, Int<1>{}));
  const Tensor a_tiles = local_tile(a, make_shape(TileM{}, TileK{}), make_coord(tile_m, _));
  const Tensor b_tiles = local_tile(b, make_shape(TileN{}, TileK{}), make_coord(tile_n, _));
  Tensor out_tile = local_tile(out, make_shape(TileM{}, TileN{}), make_coord(tile_m, tile_n));

  Tensor a_stages = make_tensor(make_smem_ptr(storage.a), SmemLayoutA{});
  Tensor b_stages = make_tensor(make_smem_ptr(storage.b), SmemLayoutB{});

  GmemCopy gmem_copy;
  const auto copy_slice = gmem_copy.get_slice(thread);
  const Tensor a_sources = copy_slice.partition_S(a_tiles); // (copy, rows, columns, k tile)
  const Tensor b_sources = copy_slice.partition_S(b_tiles);
  Tensor a_targets = copy_slice.partition_D(a_stages); // (copy, rows, columns, stage)
  Tensor b_targets = copy_slice.partition_D(b_stages);

  Mma mma;
  const auto mma_slice = mma.get_slice(thread);
  // Shared-memory descriptors, one per K-block and stage: wgmma reads the operands from there.
  const Tensor a_descriptors = mma_slice.make_fragment_A(mma_slice.partition_A(a_stages));
  const Tensor b_descriptors = mma_slice.make_fragment_B(mma_slice.partition_B(b_stages));
  Tensor out_part = mma_slice.partition_C(out_tile);
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
  const Params params{problem.m,
                      problem.n,
                      problem.k,
                      problem.out,
                      static_cast<const half_t*>(problem.a),
                      static_cast<const half_t*>(problem.b)};
  const auto tiles = static_cast<unsigned>((problem.m / kTile) * (problem.n / kTile));
  gemm_sm90_kernel<<<tiles, kThreads, 0, static_cast<cudaStream_t>(problem.stream)>>>(params);
  return kget_kernels::cuda::check_launch(error, "gemm", problem.device);
}

} // namespace cutlass_groups
