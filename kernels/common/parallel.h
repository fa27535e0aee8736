// A small parallel-for over a thread pool that the kernel library owns.
//
// Why not OpenMP: a kernel's runtime dependencies must be glibc and libstdc++ only, and libgomp
// is neither. The pool is std::thread with pthread mutexes and condition variables (parallel.cpp
// says why not std::mutex/std::condition_variable: their symbol versions).
//
// Rules it follows (docs/kernel-abi.md): no threads are created before the first op call that
// needs them (kget_kernel_init and loading stay free of side effects); the calling thread takes
// part in the work and the call returns only when all of it is done; ops may be called from
// several threads at once (one call uses the pool, the others run on their own thread); and a
// child process after fork(), where the pool's threads do not exist, runs on its own thread.
#pragma once

#include <cstdint>

namespace kget_kernels {

// Threads the pool uses, the calling thread included: KGET_KERNEL_CPU_THREADS if set (1 to 1024),
// else the CPUs in the process's affinity mask. Decided once, on first use.
int cpu_thread_count();

// Nonzero when KGET_KERNEL_CPU_THREADS is set but malformed; `message` then says why.
int cpu_thread_config_status(const char** message);

using RangeFn = void (*)(void* context, int64_t begin, int64_t end);

// Work below this many elements runs on the calling thread alone: waking a worker costs several
// microseconds, and on a busy (virtual) machine the worker may join tens of microseconds late,
// so smaller calls only lose (measured on the 2-vCPU VM, docs/kernels.md, "Threads").
constexpr int64_t kParallelMinElements = 256 * 1024;
// Elements per range handed out to the threads: small enough that a late worker holds up the
// caller by a couple of microseconds at most, large enough to amortize the atomic counter.
constexpr int64_t kParallelChunkElements = 16 * 1024;

// Calls fn(context, begin, end) on disjoint ranges covering [0, count), each at most `grain` long
// (grain >= 1), from the calling thread and pool threads. Serial when there is one range.
void parallel_for_ranges(int64_t count, int64_t grain, RangeFn fn, void* context);

// parallel_for(count, grain, [&](int64_t begin, int64_t end) { ... });
template <class Body>
void parallel_for(int64_t count, int64_t grain, Body& body) {
  parallel_for_ranges(
      count, grain,
      [](void* context, int64_t begin, int64_t end) { (*static_cast<Body*>(context))(begin, end); },
      &body);
}

// The grain for `count` items of `elements_per_item` elements each: all of them at once (serial)
// below kParallelMinElements in total, else about kParallelChunkElements per range.
inline int64_t parallel_grain(int64_t count, int64_t elements_per_item) {
  const int64_t per_item = elements_per_item > 0 ? elements_per_item : 1;
  if (count <= kParallelMinElements / per_item) {
    return count > 0 ? count : 1;
  }
  return per_item >= kParallelChunkElements ? 1 : kParallelChunkElements / per_item;
}

} // namespace kget_kernels
