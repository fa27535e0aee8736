// What the builder tells every source of tests/build/tiny_groups: KGET_CUDA_PATH_<GROUP> for each
// group it built, its targets joined by '+'. A wrong define fails the compilation, and with it the
// build test. The sm90 group is built in every test; sm80 is left out by --cuda-arch 9.0, and
// sm80.cu (compiled only with its group) insists on its own define.
#pragma once

#define TINY_STRING_(x) #x
#define TINY_STRING(x) TINY_STRING_(x)

constexpr bool tiny_same(const char* a, const char* b) {
  return *a == *b && (*a == '\0' || tiny_same(a + 1, b + 1));
}

#ifndef KGET_CUDA_PATH_SM90
#error "KGET_CUDA_PATH_SM90 is not defined"
#endif
static_assert(tiny_same(TINY_STRING(KGET_CUDA_PATH_SM90), "sm_90a"), "sm90 group targets");

#ifdef KGET_CUDA_PATH_SM80
static_assert(tiny_same(TINY_STRING(KGET_CUDA_PATH_SM80), "sm_80+compute_80"),
              "sm80 group targets");
#endif
