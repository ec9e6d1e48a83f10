if(WEBHOOK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(WEBHOOK_TSAN)
  # GCC 12 warns that atomic_thread_fence (used by Asio) is not instrumented; TSan still works.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()
if(WEBHOOK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WEBHOOK_FUZZ needs clang (libFuzzer): use the fuzz preset")
  endif()
  # Everything is instrumented for coverage; only the fuzz targets link libFuzzer's main
  # (tests/fuzz/CMakeLists.txt). UB is fatal, except pointer-overflow, which stays recoverable
  # so that tests/fuzz/ubsan.supp can silence RapidJSON 1.1.0's null-pointer arithmetic in
  # internal/stack.h; run.sh sets halt_on_error=1, so any other pointer-overflow still stops.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all -fsanitize-recover=pointer-overflow)
  add_link_options(-fsanitize=address,undefined)
endif()
