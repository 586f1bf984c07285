# The CPU backend: backends/llvm/*.c compiled into kiln_core against the
# LLVM 19 C API. Included by the top-level CMakeLists.txt when KILN_WITH_LLVM.
#
# By default the shared libLLVM is linked (fast links, small binaries).
# KILN_LLVM_STATIC links the static component libraries instead, for a
# relocatable build that runs where no libLLVM is installed.

option(KILN_LLVM_STATIC "Link LLVM statically (llvm-config --link-static)" OFF)

find_program(KILN_LLVM_CONFIG NAMES llvm-config-19 llvm-config
  HINTS /usr/lib/llvm-19/bin
  DOC "llvm-config of LLVM 19")
if(NOT KILN_LLVM_CONFIG)
  message(FATAL_ERROR "KILN_WITH_LLVM is ON but llvm-config-19 was not found "
                      "(install llvm-19-dev or configure with -DKILN_WITH_LLVM=OFF)")
endif()

execute_process(COMMAND ${KILN_LLVM_CONFIG} --version
  OUTPUT_VARIABLE KILN_LLVM_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT KILN_LLVM_VERSION MATCHES "^19\\.")
  message(FATAL_ERROR "${KILN_LLVM_CONFIG} reports LLVM ${KILN_LLVM_VERSION}; kiln needs LLVM 19")
endif()
execute_process(COMMAND ${KILN_LLVM_CONFIG} --includedir
  OUTPUT_VARIABLE KILN_LLVM_INCLUDE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${KILN_LLVM_CONFIG} --libdir
  OUTPUT_VARIABLE KILN_LLVM_LIB_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)

if(KILN_LLVM_STATIC)
  execute_process(COMMAND ${KILN_LLVM_CONFIG} --link-static --libs orcjit native
    OUTPUT_VARIABLE KILN_LLVM_LIBS OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE KILN_LLVM_RC)
  execute_process(COMMAND ${KILN_LLVM_CONFIG} --link-static --system-libs orcjit native
    OUTPUT_VARIABLE KILN_LLVM_SYSTEM_LIBS OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT KILN_LLVM_RC EQUAL 0 OR KILN_LLVM_LIBS STREQUAL "")
    message(FATAL_ERROR "KILN_LLVM_STATIC: ${KILN_LLVM_CONFIG} has no static libraries for orcjit native")
  endif()
  separate_arguments(KILN_LLVM_LIBS UNIX_COMMAND "${KILN_LLVM_LIBS}")
  separate_arguments(KILN_LLVM_SYSTEM_LIBS UNIX_COMMAND "${KILN_LLVM_SYSTEM_LIBS}")
  # llvm-config names the system libraries LLVM was built against (-lzstd,
  # -lxml2, ...). A machine may have only the runtime library (libzstd.so.1,
  # no -dev package); link that file directly rather than fail.
  set(KILN_LLVM_SYSTEM_LINK "")
  foreach(lib ${KILN_LLVM_SYSTEM_LIBS})
    if(lib MATCHES "^-l(.+)$")
      set(name ${CMAKE_MATCH_1})
      find_library(KILN_SYSLIB_${name} NAMES ${name})
      if(NOT KILN_SYSLIB_${name})
        file(GLOB versioned /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.so.* /usr/lib/lib${name}.so.*
                           /lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.so.*)
        if(versioned)
          list(GET versioned 0 first)
          set(KILN_SYSLIB_${name} ${first} CACHE FILEPATH "" FORCE)
        endif()
      endif()
      if(KILN_SYSLIB_${name})
        list(APPEND KILN_LLVM_SYSTEM_LINK ${KILN_SYSLIB_${name}})
      else()
        message(WARNING "KILN_LLVM_STATIC: system library ${name} not found; linking without it")
      endif()
    elseif(EXISTS "${lib}")
      list(APPEND KILN_LLVM_SYSTEM_LINK ${lib})
    else()
      message(WARNING "KILN_LLVM_STATIC: ${lib} not found; linking without it")
    endif()
  endforeach()
  # The LLVM libraries are C++; a C project must name the C++ runtime itself.
  set(KILN_LLVM_LINK ${KILN_LLVM_LIBS} ${KILN_LLVM_SYSTEM_LINK} stdc++)
else()
  execute_process(COMMAND ${KILN_LLVM_CONFIG} --libs
    OUTPUT_VARIABLE KILN_LLVM_LIBS OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(KILN_LLVM_LIBS UNIX_COMMAND "${KILN_LLVM_LIBS}")
  set(KILN_LLVM_LINK ${KILN_LLVM_LIBS})
endif()
message(STATUS "kiln: LLVM ${KILN_LLVM_VERSION} from ${KILN_LLVM_CONFIG}"
               " (static: ${KILN_LLVM_STATIC})")

file(GLOB KILN_LLVM_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/backends/llvm/*.c)
target_sources(kiln_core PRIVATE ${KILN_LLVM_SOURCES})
# include/kiln/llvm.h includes llvm-c headers, so users of kiln_core need them too.
target_include_directories(kiln_core SYSTEM PUBLIC ${KILN_LLVM_INCLUDE_DIR})
target_compile_definitions(kiln_core PUBLIC KILN_WITH_LLVM=1)
# runtime/session.c registers the cpu backend (backends/llvm/cpu_backend.c)
target_compile_definitions(kiln_core PRIVATE KILN_HAVE_CPU_BACKEND=1)
target_link_directories(kiln_core PUBLIC ${KILN_LLVM_LIB_DIR})
target_link_libraries(kiln_core PUBLIC ${KILN_LLVM_LINK})

# Benchmarks (bench/) are programs, not tests; the BLAS peer links only there.
add_subdirectory(${CMAKE_SOURCE_DIR}/bench ${CMAKE_BINARY_DIR}/bench)
