// The Vulkan context: instance, chosen physical device, logical device, one compute
// queue, the pipeline cache and the validation-message sink. Move-only RAII.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vk/check.h"
#include "vk/kernel_family.h"

namespace vitscope::vk {

class PipelineCache;
class Buffer;

// What the engine knows about one physical device.
struct DeviceInfo {
  uint32_t index = 0;
  std::string name;
  std::string type;    // "discrete", "integrated", "virtual", "cpu", "other"
  std::string driver;  // driver name and info string
  uint32_t api_version = 0;
  uint32_t vendor_id = 0;
  VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;
  bool subgroup_ballot = false;  // subgroupBroadcast needs GL_KHR_shader_subgroup_ballot
  bool fp16_storage = false;     // storageBuffer16BitAccess
  bool fp16_arithmetic = false;  // shaderFloat16
  bool fp16_texel = false;       // RGBA16F uniform texel buffers (fp16 weights for the texel GEMM)
  bool cooperative_matrix = false;  // VK_KHR_cooperative_matrix advertised
  // The device lists a subgroup-scope 16x16x16 fp16 x fp16 -> fp32 cooperative matrix
  // multiply (vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR).
  bool coopmat_f16_16x16x16 = false;
  // VK_NV_cooperative_matrix with its cooperativeMatrix feature (enabled at device creation),
  // and the subgroup-scope fp16 x fp16 -> fp32 (C and D) shapes it lists
  // (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV): what linear_coopmat.comp runs on.
  bool coopmat_nv = false;
  bool vulkan_memory_model = false;  // VK_KHR_vulkan_memory_model's vulkanMemoryModel (those shaders use it)
  std::vector<CoopmatShape> coopmat_nv_shapes;
  // The kernel family this context forces (ContextOptions::kernels, VITSCOPE_KERNELS); auto:
  // each op chooses per device class. Every op's chooser reads it.
  KernelFamily kernels = KernelFamily::Auto;
  bool timestamps = false;          // compute queue supports timestamp queries
  float timestamp_period_ns = 1.0f;
  uint64_t device_local_bytes = 0;  // size of the largest device-local heap
  uint64_t max_storage_buffer_range = 0;
  uint64_t max_texel_buffer_elements = 0;
  uint64_t max_allocation_size = 0;
  uint64_t min_storage_offset_alignment = 1;
  uint64_t min_texel_offset_alignment = 1;
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_shared_memory = 0;  // maxComputeSharedMemorySize, bytes
  uint32_t compute_queue_family = UINT32_MAX;
};

struct ContextOptions {
  int device = -1;        // -1: VITSCOPE_DEVICE or the best device
  int validate = -1;      // -1: VITSCOPE_VALIDATE env; 0 off; 1 on
  bool quiet = false;     // don't print validation messages to stderr (still recorded)
  // Kernel family: "auto", "portable", "tiled", "coopmat"; empty: VITSCOPE_KERNELS or auto.
  // A family the device cannot run is refused with an Error naming what it lacks.
  std::string kernels;
};

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Every device visible to the loader (creates a throw-away instance).
  static std::vector<DeviceInfo> list_devices();

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  const DeviceInfo& info() const { return info_; }
  bool validation_enabled() const { return validation_; }

  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want,
                            VkMemoryPropertyFlags prefer = 0) const;

  PipelineCache& pipelines() { return *pipelines_; }

  // A tiny device buffer bound to shader slots an op does not use.
  const Buffer& dummy_buffer() const { return *dummy_; }

  // Submit one command buffer and wait for it, turning a time-out or device loss into
  // an error that names `what`. Throws if the validation layer reported anything.
  // After a time-out or device loss the context is lost(): the work may still be
  // running, so the destructors skip every Vulkan call (the objects are leaked rather
  // than freed under a running GPU, and nothing waits for it: no hang at exit).
  //
  // TEST HOOK (fault injection, docs/hardening.md): VITSCOPE_FAULT, read when the
  // context is created. `device-lost` makes every submit whose work finished report
  // VK_ERROR_DEVICE_LOST exactly as a real loss would (same VulkanError, same message);
  // `device-lost@TEXT` only the submits whose `what` contains TEXT. The device is in
  // fact idle and intact, so the context is not marked lost() and is freed normally.
  void submit_and_wait(VkCommandBuffer cb, const std::string& what, uint64_t timeout_ns = 0);
  bool lost() const { return lost_; }

  // Validation messages seen so far (the layer's callback appends here).
  size_t validation_message_count() const;
  std::vector<std::string> validation_messages() const;
  // Throws vitscope::Error listing new messages, if any arrived since the last check.
  void check_validation(const std::string& where);

  // Internal: called from the debug-utils callback.
  void on_validation_message(const char* text);

 private:
  void release();

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool submit_pool_ = VK_NULL_HANDLE;
  DeviceInfo info_;
  bool validation_ = false;
  bool lost_ = false;
  bool quiet_ = false;
  VkPhysicalDeviceMemoryProperties memory_ = {};
  bool fault_device_lost_ = false;  // test hook (VITSCOPE_FAULT), see submit_and_wait
  std::string fault_only_;

  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  size_t messages_checked_ = 0;

  std::unique_ptr<PipelineCache> pipelines_;
  std::unique_ptr<Buffer> dummy_;
  std::mutex queue_mutex_;
};

// Environment helpers shared by the CLI, app and tests.
bool validation_requested();
// Validation messages of the contexts destroyed so far that no submit turned into an
// error: those after the last submit, e.g. VUID-vkDestroyDevice-device-00378 for a
// Vulkan object nobody destroyed. The test runner fails the run when this is not 0.
size_t teardown_validation_messages();
// Time-out for one recorded forward pass: VITSCOPE_GPU_TIMEOUT_MS, default 10 minutes.
// 0 does not wait at all (the time-out path can be tested on any device).
uint64_t forward_timeout_ns();

}  // namespace vitscope::vk
