// What the two groups' kernels share (sm90_gemm.cu, sm80_gemm.cu): their parameters, the launch,
// the thread block's tiles of a, b and out in global memory, and the cp.async copy that stages
// 64 x 64 float16 tiles into shared memory. They differ in the shared-memory layout and the MMA.
// Compiled into each group's file for that group's targets only.
#pragma once

#include "common/cuda_common.cuh"
#include "gemm.h"

// cute/tensor.hpp brings the copy and MMA atoms in the order they need; including an atom header
// before it does not compile.
#include <cute/tensor.hpp>

namespace cutlass_groups {

using TileM = cute::Int<kTile>;
using TileN = cute::Int<kTile>;
using TileK = cute::Int<kTile>;
using Stages = cute::Int<2>;

constexpr int kThreads = 128;

struct Params {
  int64_t m;
  int64_t n;
  int64_t k;
  float* out;
  const cute::half_t* a;
  const cute::half_t* b;
};

// 128 threads, each moving 16 bytes (8 float16) per cp.async: 16 rows x 64 columns per pass.
using GmemCopy = decltype(cute::make_tiled_copy(
    cute::Copy_Atom<cute::SM80_CP_ASYNC_CACHEGLOBAL<cute::uint128_t>, cute::half_t>{},
    cute::Layout<cute::Shape<cute::_16, cute::_8>, cute::Stride<cute::_8, cute::_1>>{},
    cute::Layout<cute::Shape<cute::_1, cute::_8>>{}));

template <class ATiles, class BTiles, class OutTile>
struct BlockTiles {
  ATiles a;    // (TileM, TileK, k tile)
  BTiles b;    // (TileN, TileK, k tile)
  OutTile out; // (TileM, TileN)
};

// Block blockIdx.x computes out tile (blockIdx.x / tiles_n, blockIdx.x % tiles_n).
__device__ inline auto block_tiles(const Params& params) {
  using namespace cute;
  const int64_t tiles_n = params.n / kTile;
  const int64_t tile_m = static_cast<int64_t>(blockIdx.x) / tiles_n;
  const int64_t tile_n = static_cast<int64_t>(blockIdx.x) % tiles_n;
  const Tensor a = make_tensor(make_gmem_ptr(params.a), make_shape(params.m, params.k),
                               make_stride(params.k, Int<1>{}));
  const Tensor b = make_tensor(make_gmem_ptr(params.b), make_shape(params.n, params.k),
                               make_stride(params.k, Int<1>{}));
  Tensor out = make_tensor(make_gmem_ptr(params.out), make_shape(params.m, params.n),
                           make_stride(params.n, Int<1>{}));
  auto a_tiles = local_tile(a, make_shape(TileM{}, TileK{}), make_coord(tile_m, _));
  auto b_tiles = local_tile(b, make_shape(TileN{}, TileK{}), make_coord(tile_n, _));
  auto out_tile = local_tile(out, make_shape(TileM{}, TileN{}), make_coord(tile_m, tile_n));
  return BlockTiles<decltype(a_tiles), decltype(b_tiles), decltype(out_tile)>{a_tiles, b_tiles,
                                                                              out_tile};
}

// One block of kThreads per out tile, on problem.stream.
inline int launch(void (*kernel)(Params), const GemmProblem& problem, kget_error* error) {
  const Params params{problem.m,
                      problem.n,
                      problem.k,
                      problem.out,
                      static_cast<const cute::half_t*>(problem.a),
                      static_cast<const cute::half_t*>(problem.b)};
  const auto tiles = static_cast<unsigned>((problem.m / kTile) * (problem.n / kTile));
  kernel<<<tiles, kThreads, 0, static_cast<cudaStream_t>(problem.stream)>>>(params);
  return kget_kernels::cuda::check_launch(error, "gemm", problem.device);
}

} // namespace cutlass_groups
