// `vitscope-cli devices`: every Vulkan device and the features the engine can use.
#include <cstdio>

#include "common.h"

namespace vitscope::cli {

namespace {

nlohmann::json shapes_json(const vk::DeviceInfo& d) {
  auto out = nlohmann::json::array();
  for (const auto& s : d.coopmat_nv_shapes) out.push_back({s.m, s.n, s.k});
  return out;
}

// The families --kernels accepts on this device (auto always).
std::vector<std::string> families(const vk::DeviceInfo& d) {
  std::vector<std::string> out;
  for (auto f : {vk::KernelFamily::Auto, vk::KernelFamily::Portable, vk::KernelFamily::Tiled, vk::KernelFamily::Coopmat})
    if (vk::kernel_family_problem(d, f).empty()) out.emplace_back(vk::kernel_family_name(f));
  return out;
}

std::string nv_line(const vk::DeviceInfo& d) {
  if (!d.coopmat_nv) return "no";
  std::string shapes;
  for (const auto& s : d.coopmat_nv_shapes)
    shapes += (shapes.empty() ? "" : ", ") + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
  std::string why = vk::coopmat_problem(d);
  return "yes, fp16 x fp16 -> fp32 shapes (MxNxK): " + (shapes.empty() ? std::string("none") : shapes) +
         (why.empty() ? "; the coopmat GEMM can run (--kernels coopmat)" : "; the coopmat GEMM cannot: " + why);
}

}  // namespace

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
                         {"cooperative_matrix_f16_16x16x16", d.coopmat_f16_16x16x16},
                         {"cooperative_matrix_nv", d.coopmat_nv}, {"cooperative_matrix_nv_shapes", shapes_json(d)},
                         {"kernel_families", families(d)}, {"timestamps", d.timestamps},
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
          std::printf("   VK_NV_cooperative_matrix: %s\n", nv_line(d).c_str());
          std::string fams;
          for (const auto& f : families(d)) fams += (fams.empty() ? "" : ", ") + f;
          std::printf("   kernel families (--kernels): %s\n", fams.c_str());
        }
      }
      if (*json) std::printf("%s\n", out.dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace vitscope::cli
