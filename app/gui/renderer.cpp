#include "renderer.h"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace vitscope::gui {

namespace {

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw VulkanError(int(r), std::string("window renderer: ") + what + " failed (VkResult " + std::to_string(int(r)) + ")");
}

// Dear ImGui's backend reports its own Vulkan failures through this hook.
void imgui_check(VkResult r) {
  if (r < 0) throw VulkanError(int(r), "Dear ImGui Vulkan backend: VkResult " + std::to_string(int(r)));
}

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT && data && data->pMessage)
    static_cast<Renderer*>(user)->on_validation_message(data->pMessage);
  return VK_FALSE;
}

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  return std::any_of(layers.begin(), layers.end(), [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool layer_has_extension(const char* layer, const char* ext) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(layer, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(layer, &n, exts.data());
  return std::any_of(exts.begin(), exts.end(), [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, ext) == 0; });
}

VkDebugUtilsMessengerCreateInfoEXT messenger_info(Renderer* self) {
  VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  dbg.pfnUserCallback = on_debug_message;
  dbg.pUserData = self;
  return dbg;
}

// A render pass compatible with ImGui_ImplVulkanH's (same attachment format, sample
// count and subpass dependency) that leaves the image in COLOR_ATTACHMENT_OPTIMAL.
VkRenderPass make_offscreen_pass(VkDevice device, VkFormat format) {
  VkAttachmentDescription att{};
  att.format = format;
  att.samples = VK_SAMPLE_COUNT_1_BIT;
  att.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  att.finalLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
  VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription sub{};
  sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  sub.colorAttachmentCount = 1;
  sub.pColorAttachments = &ref;
  VkSubpassDependency dep{};
  dep.srcSubpass = VK_SUBPASS_EXTERNAL;
  dep.dstSubpass = 0;
  dep.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dep.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dep.srcAccessMask = 0;
  dep.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  VkRenderPassCreateInfo ci{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  ci.attachmentCount = 1;
  ci.pAttachments = &att;
  ci.subpassCount = 1;
  ci.pSubpasses = &sub;
  ci.dependencyCount = 1;
  ci.pDependencies = &dep;
  VkRenderPass pass = VK_NULL_HANDLE;
  check(vkCreateRenderPass(device, &ci, nullptr, &pass), "vkCreateRenderPass (offscreen)");
  return pass;
}

}  // namespace

Renderer::Renderer(GLFWwindow* window, const RendererOptions& options) : glfw_(window) {
  try {
    create_instance(options);
    check(glfwCreateWindowSurface(instance_, glfw_, nullptr, &surface_), "glfwCreateWindowSurface");
    pick_device(options);
    create_device();
    window_.Surface = surface_;
    // 8-bit UNORM, so image pixels and colour-map entries reach the screen unchanged.
    const VkFormat formats[] = {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM};
    window_.SurfaceFormat = ImGui_ImplVulkanH_SelectSurfaceFormat(physical_, surface_, formats, 2,
                                                                  VK_COLORSPACE_SRGB_NONLINEAR_KHR);
    const VkPresentModeKHR modes[] = {VK_PRESENT_MODE_FIFO_KHR};
    window_.PresentMode = ImGui_ImplVulkanH_SelectPresentMode(physical_, surface_, modes, 1);
    window_.ClearValue.color = {{0.08f, 0.08f, 0.09f, 1.0f}};
    int w = 0, h = 0;
    glfwGetFramebufferSize(glfw_, &w, &h);
    resize_swapchain(std::max(w, 1), std::max(h, 1));
    init_imgui();
  } catch (...) {
    destroy();
    throw;
  }
}

Renderer::~Renderer() { destroy(); }

void Renderer::create_instance(const RendererOptions& options) {
  uint32_t n = 0;
  const char** glfw_exts = glfwGetRequiredInstanceExtensions(&n);
  if (!glfw_exts) throw NoDeviceError("GLFW found no Vulkan window-system support (is a Vulkan driver installed?)");
  std::vector<const char*> exts(glfw_exts, glfw_exts + n);
  std::vector<const char*> layers;
  bool validate = options.validate;
  if (validate && !has_layer(kValidationLayer)) {
    std::fprintf(stderr, "vitscope: warning: VITSCOPE_VALIDATE is set but %s is not installed; drawing without validation\n",
                 kValidationLayer);
    validate = false;
  }
  VkDebugUtilsMessengerCreateInfoEXT dbg = messenger_info(this);
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  const VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  if (validate) {
    layers.push_back(kValidationLayer);
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    ci.pNext = &dbg;
    if (layer_has_extension(kValidationLayer, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
      exts.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
      features.enabledValidationFeatureCount = 1;
      features.pEnabledValidationFeatures = enables;
      dbg.pNext = &features;
    }
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vitscope";
  app.applicationVersion = VK_MAKE_VERSION(0, 1, 0);
  app.pEngineName = "vitscope";
  app.apiVersion = VK_API_VERSION_1_1;
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    throw NoDeviceError("no Vulkan driver can draw to a window (Debian: mesa-vulkan-drivers)");
  check(r, "vkCreateInstance");
  if (validate) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT plain = messenger_info(this);
    if (create) check(create(instance_, &plain, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
  }
}

void Renderer::pick_device(const RendererOptions& options) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance_, &n, nullptr);
  std::vector<VkPhysicalDevice> pds(n);
  vkEnumeratePhysicalDevices(instance_, &n, pds.data());
  int best_score = -1;
  for (VkPhysicalDevice pd : pds) {
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qs(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qs.data());
    uint32_t family = UINT32_MAX;
    for (uint32_t i = 0; i < nq && family == UINT32_MAX; ++i) {
      VkBool32 present = VK_FALSE;
      vkGetPhysicalDeviceSurfaceSupportKHR(pd, i, surface_, &present);
      if ((qs[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) && present) family = i;
    }
    if (family == UINT32_MAX) continue;
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(pd, &props);
    int score = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 3
                : props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                                                                            : 1;
    if (!options.prefer_device_name.empty() && options.prefer_device_name == props.deviceName) score = 10;
    if (score > best_score) {
      best_score = score;
      physical_ = pd;
      queue_family_ = family;
      device_name_ = props.deviceName;
    }
  }
  if (!physical_) throw NoDeviceError("no Vulkan device can present to this window");
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
}

void Renderer::create_device() {
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  q.queueFamilyIndex = queue_family_;
  q.queueCount = 1;
  q.pQueuePriorities = &priority;
  const char* exts[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &q;
  ci.enabledExtensionCount = 1;
  ci.ppEnabledExtensionNames = exts;
  check(vkCreateDevice(physical_, &ci, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  // Dear ImGui needs one combined image sampler (its font); leave room to spare.
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 16};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
  pi.maxSets = 16;
  pi.poolSizeCount = 1;
  pi.pPoolSizes = &size;
  check(vkCreateDescriptorPool(device_, &pi, nullptr, &imgui_pool_), "vkCreateDescriptorPool");

  VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  cp.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  cp.queueFamilyIndex = queue_family_;
  check(vkCreateCommandPool(device_, &cp, nullptr, &one_shot_pool_), "vkCreateCommandPool");
}

void Renderer::resize_swapchain(int width, int height) {
  ImGui_ImplVulkanH_CreateOrResizeWindow(instance_, physical_, device_, &window_, queue_family_, nullptr, width, height,
                                         min_image_count_);
  window_.FrameIndex = 0;
  window_.SemaphoreIndex = 0;
}

void Renderer::init_imgui() {
  ImGui_ImplVulkan_InitInfo info{};
  info.Instance = instance_;
  info.PhysicalDevice = physical_;
  info.Device = device_;
  info.QueueFamily = queue_family_;
  info.Queue = queue_;
  info.DescriptorPool = imgui_pool_;
  info.Subpass = 0;
  info.MinImageCount = min_image_count_;
  info.ImageCount = window_.ImageCount;
  info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
  info.CheckVkResultFn = imgui_check;
  if (!ImGui_ImplVulkan_Init(&info, window_.RenderPass)) throw Error("Dear ImGui's Vulkan backend failed to start");
  imgui_ready_ = true;
  submit_now([](VkCommandBuffer cb) { ImGui_ImplVulkan_CreateFontsTexture(cb); });
  ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void Renderer::destroy() {
  if (device_) vkDeviceWaitIdle(device_);
  if (imgui_ready_) ImGui_ImplVulkan_Shutdown();
  imgui_ready_ = false;
  if (device_ && window_.Swapchain) {
    ImGui_ImplVulkanH_DestroyWindow(instance_, device_, &window_, nullptr);  // also the surface
    surface_ = VK_NULL_HANDLE;
  }
  if (surface_) vkDestroySurfaceKHR(instance_, surface_, nullptr);
  surface_ = VK_NULL_HANDLE;
  if (one_shot_pool_) vkDestroyCommandPool(device_, one_shot_pool_, nullptr);
  one_shot_pool_ = VK_NULL_HANDLE;
  if (imgui_pool_) vkDestroyDescriptorPool(device_, imgui_pool_, nullptr);
  imgui_pool_ = VK_NULL_HANDLE;
  if (device_) vkDestroyDevice(device_, nullptr);
  device_ = VK_NULL_HANDLE;
  if (messenger_) {
    auto destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy_messenger) destroy_messenger(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
}

uint32_t Renderer::memory_type(uint32_t type_bits, VkMemoryPropertyFlags flags) const {
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & flags) == flags) return i;
  throw Error("window renderer: no suitable Vulkan memory type");
}

void Renderer::submit_now(const std::function<void(VkCommandBuffer)>& record) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = one_shot_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb = VK_NULL_HANDLE;
  check(vkAllocateCommandBuffers(device_, &ai, &cb), "vkAllocateCommandBuffers");
  VkFence fence = VK_NULL_HANDLE;
  auto cleanup = [&] {
    if (fence) vkDestroyFence(device_, fence, nullptr);
    vkFreeCommandBuffers(device_, one_shot_pool_, 1, &cb);
  };
  try {
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
    record(cb);
    check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vkCreateFence(device_, &fi, nullptr, &fence), "vkCreateFence");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    check(vkQueueSubmit(queue_, 1, &si, fence), "vkQueueSubmit");
    check(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
}

void Renderer::wait_idle() {
  if (device_) vkDeviceWaitIdle(device_);
}

bool Renderer::render(ImDrawData* draw_data, FrameHooks& hooks) {
  int fw = 0, fh = 0;
  glfwGetFramebufferSize(glfw_, &fw, &fh);
  if (fw <= 0 || fh <= 0) return false;
  if (swapchain_stale_ || fw != window_.Width || fh != window_.Height) {
    ImGui_ImplVulkan_SetMinImageCount(min_image_count_);
    resize_swapchain(fw, fh);
    swapchain_stale_ = false;
  }
  VkSemaphore acquired = window_.FrameSemaphores[window_.SemaphoreIndex].ImageAcquiredSemaphore;
  VkSemaphore complete = window_.FrameSemaphores[window_.SemaphoreIndex].RenderCompleteSemaphore;
  VkResult r = vkAcquireNextImageKHR(device_, window_.Swapchain, UINT64_MAX, acquired, VK_NULL_HANDLE, &window_.FrameIndex);
  if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    swapchain_stale_ = true;
    return false;
  }
  if (r == VK_SUBOPTIMAL_KHR) swapchain_stale_ = true;
  else check(r, "vkAcquireNextImageKHR");

  ImGui_ImplVulkanH_Frame* fd = &window_.Frames[window_.FrameIndex];
  check(vkWaitForFences(device_, 1, &fd->Fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  check(vkResetFences(device_, 1, &fd->Fence), "vkResetFences");
  check(vkResetCommandPool(device_, fd->CommandPool, 0), "vkResetCommandPool");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(fd->CommandBuffer, &bi), "vkBeginCommandBuffer");
  hooks.before_pass(fd->CommandBuffer, window_.FrameIndex);
  VkRenderPassBeginInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  rp.renderPass = window_.RenderPass;
  rp.framebuffer = fd->Framebuffer;
  rp.renderArea.extent.width = uint32_t(window_.Width);
  rp.renderArea.extent.height = uint32_t(window_.Height);
  rp.clearValueCount = 1;
  rp.pClearValues = &window_.ClearValue;
  vkCmdBeginRenderPass(fd->CommandBuffer, &rp, VK_SUBPASS_CONTENTS_INLINE);
  hooks.target(fd->CommandBuffer, draw_data);
  ImGui_ImplVulkan_RenderDrawData(draw_data, fd->CommandBuffer);
  hooks.target(VK_NULL_HANDLE, nullptr);
  vkCmdEndRenderPass(fd->CommandBuffer);
  check(vkEndCommandBuffer(fd->CommandBuffer), "vkEndCommandBuffer");

  VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.waitSemaphoreCount = 1;
  si.pWaitSemaphores = &acquired;
  si.pWaitDstStageMask = &wait_stage;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &fd->CommandBuffer;
  si.signalSemaphoreCount = 1;
  si.pSignalSemaphores = &complete;
  check(vkQueueSubmit(queue_, 1, &si, fd->Fence), "vkQueueSubmit");

  VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  pi.waitSemaphoreCount = 1;
  pi.pWaitSemaphores = &complete;
  pi.swapchainCount = 1;
  pi.pSwapchains = &window_.Swapchain;
  pi.pImageIndices = &window_.FrameIndex;
  r = vkQueuePresentKHR(queue_, &pi);
  if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) swapchain_stale_ = true;
  else check(r, "vkQueuePresentKHR");
  window_.SemaphoreIndex = (window_.SemaphoreIndex + 1) % window_.ImageCount;
  return true;
}

Capture Renderer::capture(ImDrawData* draw_data, FrameHooks& hooks) {
  wait_idle();
  Capture out;
  out.width = int(draw_data->DisplaySize.x * draw_data->FramebufferScale.x);
  out.height = int(draw_data->DisplaySize.y * draw_data->FramebufferScale.y);
  if (out.width <= 0 || out.height <= 0) throw Error("screenshot: the window has no area to capture");
  const VkFormat format = window_.SurfaceFormat.format;
  const bool bgr = format == VK_FORMAT_B8G8R8A8_UNORM || format == VK_FORMAT_B8G8R8A8_SRGB;
  if (!bgr && format != VK_FORMAT_R8G8B8A8_UNORM && format != VK_FORMAT_R8G8B8A8_SRGB)
    throw Error("screenshot: the window's surface format " + std::to_string(int(format)) + " is not 8-bit RGBA/BGRA");
  const VkDeviceSize bytes = VkDeviceSize(out.width) * VkDeviceSize(out.height) * 4;

  VkImage image = VK_NULL_HANDLE;
  VkDeviceMemory image_mem = VK_NULL_HANDLE, buffer_mem = VK_NULL_HANDLE;
  VkImageView view = VK_NULL_HANDLE;
  VkRenderPass pass = VK_NULL_HANDLE;
  VkFramebuffer fb = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  auto cleanup = [&] {
    if (fb) vkDestroyFramebuffer(device_, fb, nullptr);
    if (pass) vkDestroyRenderPass(device_, pass, nullptr);
    if (view) vkDestroyImageView(device_, view, nullptr);
    if (image) vkDestroyImage(device_, image, nullptr);
    if (image_mem) vkFreeMemory(device_, image_mem, nullptr);
    if (buffer) vkDestroyBuffer(device_, buffer, nullptr);
    if (buffer_mem) vkFreeMemory(device_, buffer_mem, nullptr);
  };
  try {
    VkImageCreateInfo ii{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ii.imageType = VK_IMAGE_TYPE_2D;
    ii.format = format;
    ii.extent = {uint32_t(out.width), uint32_t(out.height), 1};
    ii.mipLevels = 1;
    ii.arrayLayers = 1;
    ii.samples = VK_SAMPLE_COUNT_1_BIT;
    ii.tiling = VK_IMAGE_TILING_OPTIMAL;
    ii.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ii.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    check(vkCreateImage(device_, &ii, nullptr, &image), "vkCreateImage (screenshot)");
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(device_, image, &req);
    VkMemoryAllocateInfo ma{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ma.allocationSize = req.size;
    ma.memoryTypeIndex = memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    check(vkAllocateMemory(device_, &ma, nullptr, &image_mem), "vkAllocateMemory (screenshot)");
    check(vkBindImageMemory(device_, image, image_mem, 0), "vkBindImageMemory");
    VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vi.image = image;
    vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vi.format = format;
    vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    check(vkCreateImageView(device_, &vi, nullptr, &view), "vkCreateImageView");
    pass = make_offscreen_pass(device_, format);
    VkFramebufferCreateInfo fi{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fi.renderPass = pass;
    fi.attachmentCount = 1;
    fi.pAttachments = &view;
    fi.width = uint32_t(out.width);
    fi.height = uint32_t(out.height);
    fi.layers = 1;
    check(vkCreateFramebuffer(device_, &fi, nullptr, &fb), "vkCreateFramebuffer");
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = bytes;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    check(vkCreateBuffer(device_, &bi, nullptr, &buffer), "vkCreateBuffer (screenshot)");
    vkGetBufferMemoryRequirements(device_, buffer, &req);
    ma.allocationSize = req.size;
    ma.memoryTypeIndex =
        memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    check(vkAllocateMemory(device_, &ma, nullptr, &buffer_mem), "vkAllocateMemory (screenshot readback)");
    check(vkBindBufferMemory(device_, buffer, buffer_mem, 0), "vkBindBufferMemory");

    submit_now([&](VkCommandBuffer cb) {
      hooks.before_pass(cb, 0);
      VkRenderPassBeginInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
      rp.renderPass = pass;
      rp.framebuffer = fb;
      rp.renderArea.extent = {uint32_t(out.width), uint32_t(out.height)};
      rp.clearValueCount = 1;
      rp.pClearValues = &window_.ClearValue;
      vkCmdBeginRenderPass(cb, &rp, VK_SUBPASS_CONTENTS_INLINE);
      hooks.target(cb, draw_data);
      ImGui_ImplVulkan_RenderDrawData(draw_data, cb);
      hooks.target(VK_NULL_HANDLE, nullptr);
      vkCmdEndRenderPass(cb);
      VkImageMemoryBarrier to_src{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
      to_src.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
      to_src.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
      to_src.oldLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
      to_src.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
      to_src.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      to_src.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      to_src.image = image;
      to_src.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                           nullptr, 0, nullptr, 1, &to_src);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {uint32_t(out.width), uint32_t(out.height), 1};
      vkCmdCopyImageToBuffer(cb, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buffer, 1, &region);
      VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
      to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      to_host.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
      to_host.buffer = buffer;
      to_host.size = VK_WHOLE_SIZE;
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &to_host, 0,
                           nullptr);
    });

    void* mapped = nullptr;
    check(vkMapMemory(device_, buffer_mem, 0, bytes, 0, &mapped), "vkMapMemory");
    const auto* src = static_cast<const unsigned char*>(mapped);
    out.rgb.resize(size_t(out.width) * size_t(out.height) * 3);
    for (size_t i = 0, n = size_t(out.width) * size_t(out.height); i < n; ++i) {
      out.rgb[i * 3 + 0] = src[i * 4 + (bgr ? 2 : 0)];
      out.rgb[i * 3 + 1] = src[i * 4 + 1];
      out.rgb[i * 3 + 2] = src[i * 4 + (bgr ? 0 : 2)];
    }
    vkUnmapMemory(device_, buffer_mem);
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  return out;
}

size_t Renderer::validation_count() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_.size();
}

std::vector<std::string> Renderer::validation_messages() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

void Renderer::on_validation_message(const char* text) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.emplace_back(text);
  std::fprintf(stderr, "vitscope: validation (window renderer): %s\n", text);
}

}  // namespace vitscope::gui
