# Compiler settings shared by every kget target: link `kget_standard` PRIVATE.
add_library(kget_standard INTERFACE)
target_compile_options(kget_standard INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-qual -Wformat=2
  -Wimplicit-fallthrough -Wmissing-declarations)
# GCC 12 reports -Wrestrict inside std::string at -O2/-O3 where there is no overlap (GCC bug
# 105651); the warning stays on for other compilers.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(kget_standard INTERFACE -Wno-restrict)
endif()
if(KGET_WARNINGS_AS_ERRORS)
  target_compile_options(kget_standard INTERFACE -Werror)
endif()

if(KGET_SANITIZE)
  set(kget_sanitize_flags -fsanitize=${KGET_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${kget_sanitize_flags})
  add_link_options(${kget_sanitize_flags})
endif()

# kget_add_module(NAME DEPENDS dep...): a static library from every .cpp in src/NAME, linking its
# dependencies PUBLIC so that the one-way order of modules is written down here.
function(kget_add_module name)
  cmake_parse_arguments(arg "" "" "DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cpp)
  if(NOT sources) # a header-only module
    add_library(kget_${name} INTERFACE)
    target_include_directories(kget_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(kget_${name} INTERFACE ${arg_DEPENDS})
    return()
  endif()
  add_library(kget_${name} STATIC ${sources})
  target_include_directories(kget_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(kget_${name} PUBLIC ${arg_DEPENDS} PRIVATE kget_standard)
endfunction()

target_compile_definitions(kget_standard INTERFACE KGET_VERSION_STRING="${PROJECT_VERSION}")
