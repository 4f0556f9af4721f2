// `vitscope-cli selftest`: every kernel the device would use (and every variant it could use)
// on small random problems against the CPU reference; one line per kernel; exit 1 on a failure.
#include <cstdio>

#include "common.h"
#include "selftest.h"

namespace vitscope::cli {

void register_selftest(CLI::App& app, Action& run) {
  struct Opts {
    int device = -1;
    std::string kernels;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "selftest", "Run every kernel the device would use on small random problems against the CPU reference "
                  "(exit 1 if any fails)");
  cmd->add_option("-d,--device", o->device, "Vulkan device index (see `vitscope-cli devices`; default: "
                                            "VITSCOPE_DEVICE or the best device)");
  add_kernels_option(*cmd, o->kernels);
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([&run, o] {
    run = [o] {
      vk::ContextOptions co;
      co.device = o->device;
      co.kernels = o->kernels;
      vk::Context ctx(co);
      const vk::DeviceInfo& d = ctx.info();
      if (!o->json)
        std::printf("selftest on %s (%s), kernel family %s\n", d.name.c_str(), d.driver.c_str(),
                    vk::kernel_family_name(d.kernels));
      auto results = run_selftest(ctx, [&](const SelftestResult& r) {
        if (o->json) return;
        if (r.skipped) {
          std::printf("skip  %s: %s\n", r.kernel.c_str(), r.error.c_str());
        } else {
          std::printf("%-4s  %-52s max |err| %.2e (tol %.2e)  [%s]%s%s\n", r.ok ? "ok" : "FAIL", r.kernel.c_str(),
                      r.max_error, r.tolerance, r.shapes.c_str(), r.error.empty() ? "" : ": ", r.error.c_str());
        }
        std::fflush(stdout);
      });
      int failed = 0, passed = 0, skipped = 0;
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& r : results) {
        if (r.skipped) ++skipped;
        else if (r.ok) ++passed;
        else ++failed;
        arr.push_back({{"kernel", r.kernel}, {"shapes", r.shapes}, {"max_error", r.max_error},
                       {"tolerance", r.tolerance}, {"ok", r.ok && !r.skipped}, {"skipped", r.skipped},
                       {"error", r.error}});
      }
      if (o->json) {
        nlohmann::json j{{"device", d.name}, {"driver", d.driver}, {"kernels", vk::kernel_family_name(d.kernels)},
                         {"results", arr}, {"passed", passed}, {"failed", failed}, {"skipped", skipped}};
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("%d kernels ok, %d FAILED, %d not run\n", passed, failed, skipped);
      }
      return failed ? 1 : 0;
    };
  });
}

}  // namespace vitscope::cli
