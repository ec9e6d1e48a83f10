# Warnings apply to our own targets only (linked PRIVATE), never to third-party headers.
add_library(webhook_warnings INTERFACE)
target_compile_options(webhook_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wno-missing-field-initializers -Wconversion -Wsign-conversion -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${WEBHOOK_WERROR}>:-Werror>)
