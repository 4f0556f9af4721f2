// The app's own Vulkan instance and device for drawing: a GLFW window surface, the
// swapchain and per-frame objects from ImGui_ImplVulkanH, Dear ImGui's Vulkan
// backend, and an offscreen re-render of a frame's ImDrawData for screenshots.
// Inference runs on a separate vk::Context owned by the worker thread.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <imgui.h>
#include <backends/imgui_impl_vulkan.h>

struct GLFWwindow;

namespace vitscope::gui {

struct RendererOptions {
  bool validate = false;           // VK_LAYER_KHRONOS_validation with synchronisation checks
  std::string prefer_device_name;  // draw on this device when it can present
};

// Called around each render pass: `before_pass` records uploads outside the pass
// (slot = the frame's index, whose previous use has finished), `target` tells the
// overlay which command buffer and draw data the callbacks will record into.
class FrameHooks {
 public:
  virtual ~FrameHooks() = default;
  virtual void before_pass(VkCommandBuffer cb, uint32_t slot) = 0;
  virtual void target(VkCommandBuffer cb, const ImDrawData* draw_data) = 0;
};

// 8-bit RGB pixels read back from the offscreen render.
struct Capture {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
};

class Renderer {
 public:
  Renderer(GLFWwindow* window, const RendererOptions& options);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  VkRenderPass render_pass() const { return window_.RenderPass; }
  const std::string& device_name() const { return device_name_; }
  uint32_t frame_slots() const { return window_.ImageCount; }

  // Renders and presents one frame. Returns false when nothing could be drawn
  // (minimised window; the swapchain is rebuilt on the next call).
  bool render(ImDrawData* draw_data, FrameHooks& hooks);
  // Re-renders `draw_data` into an offscreen image of the same format and reads it back.
  Capture capture(ImDrawData* draw_data, FrameHooks& hooks);

  // Records commands into a one-time command buffer, submits it and waits.
  void submit_now(const std::function<void(VkCommandBuffer)>& record);
  void wait_idle();
  uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags flags) const;

  // Validation messages from this device (empty unless validation is on).
  size_t validation_count() const;
  std::vector<std::string> validation_messages() const;
  void on_validation_message(const char* text);

 private:
  void create_instance(const RendererOptions& options);
  void pick_device(const RendererOptions& options);
  void create_device();
  void resize_swapchain(int width, int height);
  void init_imgui();
  void destroy();

  GLFWwindow* glfw_ = nullptr;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = UINT32_MAX;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkDescriptorPool imgui_pool_ = VK_NULL_HANDLE;
  VkCommandPool one_shot_pool_ = VK_NULL_HANDLE;
  VkSurfaceKHR surface_ = VK_NULL_HANDLE;
  ImGui_ImplVulkanH_Window window_;
  uint32_t min_image_count_ = 2;
  bool swapchain_stale_ = false;
  bool imgui_ready_ = false;
  std::string device_name_;
  VkPhysicalDeviceMemoryProperties memory_ = {};

  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

}  // namespace vitscope::gui
