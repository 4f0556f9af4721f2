#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "testutil.h"
#include "vk/context.h"

namespace {

// A submit fails on any validation message, but the layer reports Vulkan objects left
// alive only when their device is destroyed, after the last submit (LeakSanitizer cannot
// see them either: the layer's tables keep them reachable). Registered before any test
// runs, this handler runs after every static context is destroyed, and fails the run.
void fail_on_teardown_messages() {
  if (const size_t n = vitscope::vk::teardown_validation_messages()) {
    std::fprintf(stderr, "vitscope-tests: %zu validation message(s) not reported by any submit, "
                         "e.g. while destroying a Vulkan context (printed above)\n", n);
    std::fflush(nullptr);
    std::_Exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::atexit(fail_on_teardown_messages);
  // A run under a forced kernel family (VITSCOPE_KERNELS, tests/CMakeLists.txt) that this
  // device cannot run is skipped (ctest's SKIP_RETURN_CODE), not failed.
  if (const char* k = std::getenv("VITSCOPE_KERNELS"); k && *k) {
    try {
      vitscope::test::context();
    } catch (const vitscope::InputError& e) {
      std::fprintf(stderr, "vitscope-tests: skipped: %s\n", e.what());
      return 77;
    }
  }
  return doctest::Context(argc, argv).run();
}
