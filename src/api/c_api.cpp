#include <kget/kget.h>
#include <kget/kget.hpp>

extern "C" const char* kget_version(void) { return kget::version(); }
