// Symbol pins: how a kernel linked on a new glibc stays within the manylinux_2_28 policy.
//
// glibc 2.34 moved libpthread, libdl and librt into libc.so.6 and gave their functions a new
// default version, GLIBC_2.34, keeping the old versions as aliases of the same code (and, for
// pthread_kill, as the old code, whose behaviour every pre-2.34 host has anyway). Objects that
// reach those functions without a version of their own (the static CUDA runtime,
// libcudart_static.a) bind to GLIBC_2.34 when linked on such a host, and the kernel no longer
// loads on older systems. A pin binds each such function to the newest version within the policy
// that libc still defines for the same code, and to the library that held it before 2.34, as a
// link on a glibc 2.28 host would have. docs/build.md, "CUDA cells and glibc", has the mechanism.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kget::build {

struct SymbolPin {
  std::string symbol;  // "pthread_create"
  std::string version; // the version it is pinned to, "GLIBC_2.2.5"
  std::string found;   // the version the library needed, "GLIBC_2.34"
  std::string home;    // the library that held it before glibc 2.34, "libpthread.so.0"
};

// Pins for every function `library` needs at a GLIBC version beyond the policy which `libc` (the
// libc.so.6 the library was linked against) also defines for the same code at a version within
// the policy, and which lived in libpthread, libdl or librt before glibc 2.34. Other symbols get
// no pin; `kget check` then names them.
Result<std::vector<SymbolPin>> find_glibc_pins(const std::filesystem::path& library,
                                               const std::filesystem::path& libc);

// One link-time stand-in per home library: a C++ source defining the pinned functions as empty
// bodies and a version script that puts each under its pinned version. Built as a shared object
// named like the home library (-Wl,-soname) and linked before libc, it gives the references their
// old version and their old library in the kernel's version needs; at run time the real library
// or libc provides the code. Keyed by soname.
struct StubLibrary {
  std::string source;
  std::string version_script;
};
std::map<std::string, StubLibrary> stub_libraries(const std::vector<SymbolPin>& pins);

} // namespace kget::build
