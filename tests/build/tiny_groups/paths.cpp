// A C++ source of the variant sees the group defines too (paths.h checks them).
#include "paths.h"
