// vitscope-cli: classify, inspect and benchmark Vision Transformers on any Vulkan device.
// Exit codes: 0 ok, 1 runtime error (bad file, bad model, Vulkan failure), 2 usage error.
#include <cstdio>

#include "common.h"

int main(int argc, char** argv) {
  using namespace vitscope;
  CLI::App app{"vitscope-cli: Vision Transformer inference in Vulkan compute shaders"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vitscope 0.1.0");
  cli::Action run;
  cli::register_classify(app, run);
  cli::register_eval(app, run);
  cli::register_bench(app, run);
  cli::register_info(app, run);
  cli::register_devices(app, run);
  cli::register_selftest(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    return run ? run() : 0;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "vitscope-cli: usage error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vitscope-cli: error: out of host memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vitscope-cli: error: %s\n", e.what());
    return 1;
  }
}
