// `vitscope-cli devices`: every Vulkan device and the features the engine can use.
#include <cstdio>

#include "common.h"

namespace vitscope::cli {

void register_devices(CLI::App& app, Action& run) {
  auto* cmd = app.add_subcommand("devices", "List Vulkan devices and the optional features the engine can use");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([&run, json] {
    run = [json] {
      auto devices = vk::Context::list_devices();
      if (devices.empty())
        throw NoDeviceError("no Vulkan device found; install a Vulkan driver (on Debian/Ubuntu: "
                            "mesa-vulkan-drivers for the CPU driver lavapipe, or your GPU vendor's driver)");
      nlohmann::json out = nlohmann::json::array();
      for (const auto& d : devices) {
        char mem[32];
        std::snprintf(mem, sizeof mem, "%.1f GiB", double(d.device_local_bytes) / double(1ull << 30));
        if (*json) {
          out.push_back({{"index", d.index}, {"name", d.name}, {"type", d.type}, {"driver", d.driver},
                         {"api", std::to_string(VK_API_VERSION_MAJOR(d.api_version)) + "." +
                                     std::to_string(VK_API_VERSION_MINOR(d.api_version)) + "." +
                                     std::to_string(VK_API_VERSION_PATCH(d.api_version))},
                         {"memory_bytes", d.device_local_bytes}, {"subgroup_size", d.subgroup_size},
                         {"fp16_storage", d.fp16_storage}, {"fp16_arithmetic", d.fp16_arithmetic},
                         {"fp16_texel", d.fp16_texel}, {"cooperative_matrix", d.cooperative_matrix},
                         {"cooperative_matrix_f16_16x16x16", d.coopmat_f16_16x16x16}, {"timestamps", d.timestamps},
                         {"max_storage_buffer_range", d.max_storage_buffer_range}});
        } else {
          std::printf("%u: %s (%s)\n", d.index, d.name.c_str(), d.type.c_str());
          std::printf("   driver: %s, Vulkan %u.%u.%u\n", d.driver.c_str(), VK_API_VERSION_MAJOR(d.api_version),
                      VK_API_VERSION_MINOR(d.api_version), VK_API_VERSION_PATCH(d.api_version));
          std::printf("   memory: %s device-local, max storage buffer range %.0f MiB\n", mem,
                      double(d.max_storage_buffer_range) / double(1 << 20));
          std::printf("   features: subgroup size %u, fp16 storage %s, fp16 arithmetic %s, fp16 texel buffers %s, "
                      "cooperative matrix %s, timestamps %s\n",
                      d.subgroup_size, d.fp16_storage ? "yes" : "no", d.fp16_arithmetic ? "yes" : "no",
                      d.fp16_texel ? "yes" : "no",
                      d.coopmat_f16_16x16x16 ? "yes (fp16 16x16x16)" : d.cooperative_matrix ? "yes (no fp16 16x16x16)" : "no",
                      d.timestamps ? "yes" : "no");
        }
      }
      if (*json) std::printf("%s\n", out.dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace vitscope::cli
