// kget: the command line. Thin: parses arguments, calls the library, prints.
#include <kget/kget.hpp>

#include <cstdio>

int main() {
  std::printf("kget %s\n", kget::version());
  return 0;
}
