# Warning and sanitizer settings as INTERFACE targets, linked only by our own code
# (third-party headers are included as SYSTEM and do not trip them).
add_library(portdrift_warnings INTERFACE)
target_compile_options(portdrift_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  # GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames
  # (they have their own operator new/delete) once the sanitizers change inlining.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
  $<$<BOOL:${PORTDRIFT_WERROR}>:-Werror>
  # GCC 12's flow-sensitive warnings give false positives inside libstdc++ once
  # -O3 (a Release build) inlines vector::insert and string operator+
  # (-Wrestrict: GCC bug 105329; -Warray-bounds, -Wstringop-overflow,
  # -Wfree-nonheap-object: 107852
  # and kin), and -Wmaybe-uninitialized inside Beast's http::basic_parser (its
  # boost::optional content length) once ASan changes the inlining. They are
  # still printed, but do not fail a -Werror build.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<BOOL:${PORTDRIFT_WERROR}>>:-Wno-error=restrict -Wno-error=array-bounds -Wno-error=stringop-overflow
  -Wno-error=free-nonheap-object -Wno-error=maybe-uninitialized>)

add_library(portdrift_sanitizers INTERFACE)
if(PORTDRIFT_SANITIZE)
  # Without UBSan's vptr check: it tests that a vtable is readable by writing
  # it to a pipe(), so in a test that uses up every file descriptor on purpose
  # (the metrics server's EMFILE back-off) every virtual call reads as an
  # "invalid vptr". ASan still catches the use of a freed or wild object.
  target_compile_options(portdrift_sanitizers INTERFACE -fsanitize=address,undefined -fno-sanitize=vptr
                         -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(portdrift_sanitizers INTERFACE -fsanitize=address,undefined -fno-sanitize=vptr)
endif()
if(PORTDRIFT_TSAN)
  if(PORTDRIFT_SANITIZE)
    message(FATAL_ERROR "PORTDRIFT_TSAN and PORTDRIFT_SANITIZE cannot be combined")
  endif()
  # GCC warns (-Wtsan) that TSan does not model the atomic_thread_fence Asio's
  # handler memory recycling uses; the races TSan reports are still real ones.
  target_compile_options(portdrift_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer
                         $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(portdrift_sanitizers INTERFACE -fsanitize=thread)
endif()
