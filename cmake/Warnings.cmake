# Every project target links pw_warnings; third-party headers come in through imported
# targets and so stay system includes, outside these flags.
add_library(pw_warnings INTERFACE)
target_compile_options(pw_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Werror)
# GCC 12 reports false -Wrestrict positives inside std::string at -O2/-O3 (GCC bug
# 105329); the warning stays on for other compilers.
target_compile_options(pw_warnings INTERFACE $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
target_compile_definitions(pw_warnings INTERFACE OPENSSL_API_COMPAT=30000)

if(PATCHWAVE_SANITIZE STREQUAL "thread")
  # Data races in our code; third-party reports are suppressed in tsan.supp (with a reason).
  # GCC warns that TSan does not model the fences in Boost.Asio's headers (-Wtsan);
  # such a report would be Asio's and go to tests/tsan.supp.
  target_compile_options(pw_warnings INTERFACE -fsanitize=thread -fno-omit-frame-pointer
    $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(pw_warnings INTERFACE -fsanitize=thread)
elseif(PATCHWAVE_SANITIZE)
  target_compile_options(pw_warnings INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(pw_warnings INTERFACE -fsanitize=address,undefined)
endif()

if(PATCHWAVE_FUZZ)
  # Coverage instrumentation for everything the fuzz targets link.
  target_compile_options(pw_warnings INTERFACE -fsanitize=fuzzer-no-link)
endif()
