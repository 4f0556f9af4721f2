#include "vk/context.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "vk/buffer.h"
#include "vk/pipeline.h"

namespace vitscope::vk {

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult(unknown)";
  }
}

void throw_vk_error(VkResult r, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "Vulkan call failed with " << result_name(r) << " (" << int(r) << "): " << expr;
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    os << " (out of memory)";
  (void)file;
  (void)line;
  throw VulkanError(int(r), os.str());
}

bool validation_requested() {
  const char* v = std::getenv("VITSCOPE_VALIDATE");
  return v && *v && std::strcmp(v, "0") != 0;
}

uint64_t forward_timeout_ns() {
  const char* v = std::getenv("VITSCOPE_GPU_TIMEOUT_MS");
  if (!v || !*v) return 600ull * 1000 * 1000 * 1000;
  char* end = nullptr;
  unsigned long long ms = std::strtoull(v, &end, 10);
  if (*end != '\0') throw Error(std::string("VITSCOPE_GPU_TIMEOUT_MS must be a number of milliseconds, got '") + v + "'");
  return ms == 0 ? 1 : ms * 1000 * 1000;  // 1 ns: submit_and_wait reads 0 as "the default"
}

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
constexpr const char* kNoDeviceHint =
    "no Vulkan device found; install a Vulkan driver (on Debian/Ubuntu: "
    "mesa-vulkan-drivers for the CPU driver lavapipe, or your GPU vendor's driver)";

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                              void* user) {
  // The loader reports its own driver search here too ("Loader Message"): not a finding
  // about our API use, and with no driver installed it would only bury the real error.
  if (data && data->pMessageIdName && std::strcmp(data->pMessageIdName, "Loader Message") == 0) return VK_FALSE;
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT && data && data->pMessage)
    static_cast<Context*>(user)->on_validation_message(data->pMessage);
  return VK_FALSE;
}

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool has_instance_extension(const char* name, const char* layer = nullptr) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(layer, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(layer, &n, exts.data());
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

std::vector<std::string> device_extensions(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  std::vector<std::string> out;
  for (auto& e : exts) out.emplace_back(e.extensionName);
  return out;
}

bool contains(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct InstanceHandle {
  VkInstance instance = VK_NULL_HANDLE;
  bool portability = false;
};

InstanceHandle create_instance(bool validation, const VkDebugUtilsMessengerCreateInfoEXT* dbg) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vitscope";
  app.applicationVersion = VK_MAKE_VERSION(0, 1, 0);
  app.pEngineName = "vitscope";
  app.engineVersion = VK_MAKE_VERSION(0, 1, 0);
  app.apiVersion = VK_API_VERSION_1_1;

  std::vector<const char*> layers, exts;
  if (validation) {
    layers.push_back(kValidationLayer);
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  InstanceHandle h;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  // MoltenVK and other portability drivers are listed only when asked for.
  if (has_instance_extension("VK_KHR_portability_enumeration")) {
    exts.push_back("VK_KHR_portability_enumeration");
    ci.flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
    h.portability = true;
  }
  // Synchronization validation (hazards between dispatches, copies and host access) is
  // on with the rest unless VITSCOPE_VALIDATE=core.
  VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = &sync;
  const char* mode = std::getenv("VITSCOPE_VALIDATE");
  bool want_sync = validation && !(mode && std::strcmp(mode, "core") == 0) &&
                   has_instance_extension(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME, kValidationLayer);
  if (want_sync) exts.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  if (validation && dbg) ci.pNext = dbg;
  if (want_sync) {
    features.pNext = ci.pNext;
    ci.pNext = &features;
  }
  VkResult r = vkCreateInstance(&ci, nullptr, &h.instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    throw NoDeviceError(kNoDeviceHint);
  VITSCOPE_VK_CHECK(r);
  return h;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

// VK_KHR_cooperative_matrix is newer than Debian bookworm's Vulkan headers (1.3.239): the
// structure and enums its property query needs, as the specification defines them.
constexpr VkStructureType kCoopmatPropertiesType = VkStructureType(1000506001);
constexpr uint32_t kComponentFloat16 = 0, kComponentFloat32 = 1, kScopeSubgroup = 3;
struct CoopmatProperties {
  VkStructureType sType = kCoopmatPropertiesType;
  void* pNext = nullptr;
  uint32_t MSize = 0, NSize = 0, KSize = 0;
  uint32_t AType = 0, BType = 0, CType = 0, ResultType = 0;
  VkBool32 saturatingAccumulation = VK_FALSE;
  uint32_t scope = 0;
};
using PFN_coopmat_properties = VkResult(VKAPI_PTR*)(VkPhysicalDevice, uint32_t*, CoopmatProperties*);

bool coopmat_f16_supported(VkInstance instance, VkPhysicalDevice pd) {
  auto get = reinterpret_cast<PFN_coopmat_properties>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  if (!get) return false;
  uint32_t n = 0;
  if (get(pd, &n, nullptr) != VK_SUCCESS || n == 0) return false;
  std::vector<CoopmatProperties> props(n);
  if (get(pd, &n, props.data()) != VK_SUCCESS) return false;
  for (uint32_t i = 0; i < n; ++i) {
    const CoopmatProperties& c = props[i];
    if (c.MSize == 16 && c.NSize == 16 && c.KSize == 16 && c.AType == kComponentFloat16 &&
        c.BType == kComponentFloat16 && c.CType == kComponentFloat32 && c.ResultType == kComponentFloat32 &&
        c.scope == kScopeSubgroup)
      return true;
  }
  return false;
}

// VK_NV_cooperative_matrix (declared by the 1.3.239 headers): the subgroup-scope shapes with
// fp16 A and B and fp32 C and D, the only ones linear_coopmat.comp runs.
std::vector<CoopmatShape> coopmat_nv_f16_shapes(VkInstance instance, VkPhysicalDevice pd) {
  auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  std::vector<CoopmatShape> out;
  if (!get) return out;
  uint32_t n = 0;
  if (get(pd, &n, nullptr) != VK_SUCCESS || n == 0) return out;
  std::vector<VkCooperativeMatrixPropertiesNV> props(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
  if (get(pd, &n, props.data()) != VK_SUCCESS && n == 0) return out;
  for (uint32_t i = 0; i < n && i < props.size(); ++i) {
    const auto& c = props[i];
    if (c.AType == VK_COMPONENT_TYPE_FLOAT16_NV && c.BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        c.CType == VK_COMPONENT_TYPE_FLOAT32_NV && c.DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        c.scope == VK_SCOPE_SUBGROUP_NV)
      out.push_back({c.MSize, c.NSize, c.KSize});
  }
  return out;
}

DeviceInfo describe(VkInstance instance, VkPhysicalDevice pd, uint32_t index) {
  DeviceInfo d;
  d.index = index;
  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  auto exts = device_extensions(pd);
  bool has_driver_props = contains(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &sub;
  if (has_driver_props) sub.pNext = &drv;
  vkGetPhysicalDeviceProperties2(pd, &props);
  const auto& p = props.properties;
  d.name = p.deviceName;
  d.device_type = p.deviceType;
  d.type = type_name(p.deviceType);
  d.api_version = p.apiVersion;
  d.vendor_id = p.vendorID;
  if (has_driver_props)
    d.driver = std::string(drv.driverName) + " (" + drv.driverInfo + ")";
  else
    d.driver = "driver version " + std::to_string(p.driverVersion);
  d.subgroup_size = sub.subgroupSize;
  d.subgroup_arithmetic = (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                          (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  d.subgroup_ballot = (sub.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT) &&
                      (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  d.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
  d.min_storage_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  d.min_texel_offset_alignment = p.limits.minTexelBufferOffsetAlignment;
  for (int i = 0; i < 3; ++i) d.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  d.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  d.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  d.timestamp_period_ns = p.limits.timestampPeriod;

  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props2.pNext = &m3;
  vkGetPhysicalDeviceProperties2(pd, &props2);
  d.max_allocation_size = m3.maxMemoryAllocationSize;

  // Optional features.
  VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderFloat16Int8FeaturesKHR f16{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats.pNext = &s16;
  // The instance asks for Vulkan 1.1, so shaderFloat16 comes only through the extension.
  bool has_f16_ext = contains(exts, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  if (has_f16_ext) s16.pNext = &f16;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  const bool has_coopmat_nv = contains(exts, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  if (has_coopmat_nv) {
    cm.pNext = feats.pNext;
    feats.pNext = &cm;
  }
  VkPhysicalDeviceVulkanMemoryModelFeaturesKHR vmm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR};
  const bool has_vmm = contains(exts, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
  if (has_vmm) {
    vmm.pNext = feats.pNext;
    feats.pNext = &vmm;
  }
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  d.vulkan_memory_model = has_vmm && vmm.vulkanMemoryModel;
  d.coopmat_nv = has_coopmat_nv && cm.cooperativeMatrix;
  if (d.coopmat_nv) d.coopmat_nv_shapes = coopmat_nv_f16_shapes(instance, pd);
  d.fp16_storage = s16.storageBuffer16BitAccess;
  d.fp16_arithmetic = has_f16_ext && f16.shaderFloat16;
  VkFormatProperties half4{};
  vkGetPhysicalDeviceFormatProperties(pd, VK_FORMAT_R16G16B16A16_SFLOAT, &half4);
  d.fp16_texel = half4.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT;
  d.cooperative_matrix = contains(exts, "VK_KHR_cooperative_matrix");
  if (d.cooperative_matrix) d.coopmat_f16_16x16x16 = coopmat_f16_supported(instance, pd);

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes = std::max<uint64_t>(d.device_local_bytes, mem.memoryHeaps[i].size);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
  // Prefer a compute-only family (async compute on GPUs), else any with compute.
  for (int pass = 0; pass < 2 && d.compute_queue_family == UINT32_MAX; ++pass)
    for (uint32_t i = 0; i < nq; ++i) {
      bool compute = qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
      bool graphics = qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT;
      if (compute && (pass == 1 || !graphics)) {
        d.compute_queue_family = i;
        d.timestamps = qf[i].timestampValidBits > 0 && p.limits.timestampPeriod > 0;
        break;
      }
    }
  return d;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
  uint32_t n = 0;
  VkResult r = vkEnumeratePhysicalDevices(inst, &n, nullptr);
  if (r == VK_ERROR_INITIALIZATION_FAILED) return {};
  VITSCOPE_VK_CHECK(r);
  std::vector<VkPhysicalDevice> out(n);
  if (n) VITSCOPE_VK_CHECK(vkEnumeratePhysicalDevices(inst, &n, out.data()));
  out.resize(n);
  return out;
}

}  // namespace

std::vector<DeviceInfo> Context::list_devices() {
  InstanceHandle h = create_instance(false, nullptr);
  std::vector<DeviceInfo> out;
  auto pds = physical_devices(h.instance);
  for (uint32_t i = 0; i < pds.size(); ++i) out.push_back(describe(h.instance, pds[i], i));
  vkDestroyInstance(h.instance, nullptr);
  return out;
}

Context::Context(const ContextOptions& options) : quiet_(options.quiet) {
  // Test hook: injected device loss (see submit_and_wait in context.h).
  if (const char* f = std::getenv("VITSCOPE_FAULT"); f && *f) {
    const std::string v = f;
    if (v == "device-lost" || v.rfind("device-lost@", 0) == 0) {
      fault_device_lost_ = true;
      fault_only_ = v.size() > 11 ? v.substr(12) : "";
    } else {
      throw Error("VITSCOPE_FAULT must be 'device-lost' or 'device-lost@TEXT' (a test hook), got '" + v + "'");
    }
  }
  bool want_validation = options.validate < 0 ? validation_requested() : options.validate > 0;
  if (want_validation && !has_layer(kValidationLayer)) {
    std::fprintf(stderr,
                 "vitscope: warning: VITSCOPE_VALIDATE is set but %s is not installed "
                 "(Debian: vulkan-validationlayers); running without validation\n",
                 kValidationLayer);
    want_validation = false;
  }
  validation_ = want_validation;

  VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  dbg.pfnUserCallback = debug_callback;
  dbg.pUserData = this;

  InstanceHandle h = create_instance(validation_, &dbg);
  instance_ = h.instance;
  try {
    if (validation_) {
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      if (create) VITSCOPE_VK_CHECK(create(instance_, &dbg, nullptr, &messenger_));
    }

    auto pds = physical_devices(instance_);
    std::vector<DeviceInfo> infos;
    for (uint32_t i = 0; i < pds.size(); ++i) {
      infos.push_back(describe(instance_, pds[i], i));
    }
    std::vector<uint32_t> usable;
    for (auto& d : infos)
      if (d.compute_queue_family != UINT32_MAX) usable.push_back(d.index);
    if (usable.empty()) throw NoDeviceError(kNoDeviceHint);

    int want = options.device;
    if (want < 0) {
      if (const char* e = std::getenv("VITSCOPE_DEVICE"); e && *e) {
        char* end = nullptr;
        long v = std::strtol(e, &end, 10);
        if (*end != '\0' || v < 0)
          throw Error(std::string("VITSCOPE_DEVICE must be a device index, got '") + e + "'");
        want = int(v);
      }
    }
    uint32_t chosen;
    if (want >= 0) {
      if (size_t(want) >= infos.size())
        throw Error("device " + std::to_string(want) + " does not exist (" +
                    std::to_string(infos.size()) + " Vulkan device(s); see `vitscope-cli devices`)");
      if (infos[size_t(want)].compute_queue_family == UINT32_MAX)
        throw Error("device " + std::to_string(want) + " (" + infos[size_t(want)].name +
                    ") has no compute queue");
      chosen = uint32_t(want);
    } else {
      chosen = *std::min_element(usable.begin(), usable.end(), [&](uint32_t a, uint32_t b) {
        int ra = type_rank(infos[a].device_type), rb = type_rank(infos[b].device_type);
        if (ra != rb) return ra < rb;
        return infos[a].device_local_bytes > infos[b].device_local_bytes;
      });
    }
    physical_ = pds[chosen];
    info_ = infos[chosen];
    info_.kernels = kernel_family_from(options.kernels);
    if (std::string why = kernel_family_problem(info_, info_.kernels); !why.empty()) throw InputError(why);
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = info_.compute_queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;

    auto exts = device_extensions(physical_);
    std::vector<const char*> enable;
    if (contains(exts, "VK_KHR_portability_subset")) enable.push_back("VK_KHR_portability_subset");

    // Turn on the features the fp16 kernels use, where the device has them.
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8FeaturesKHR float16{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR};
    void** tail = &features.pNext;
    auto chain = [&tail](auto& s) {
      *tail = &s;
      tail = &s.pNext;
    };
    if (info_.fp16_storage) {
      storage16.storageBuffer16BitAccess = VK_TRUE;
      chain(storage16);
    }
    if (info_.fp16_arithmetic) {
      float16.shaderFloat16 = VK_TRUE;
      chain(float16);
      enable.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    }
    // The cooperative-matrix GEMM: its feature must be enabled for the shader to be valid.
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    if (info_.coopmat_nv) {
      coopmat.cooperativeMatrix = VK_TRUE;
      chain(coopmat);
      enable.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    }
    // GL_NV_cooperative_matrix shaders are compiled for the Vulkan memory model.
    VkPhysicalDeviceVulkanMemoryModelFeaturesKHR memory_model{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR};
    if (info_.coopmat_nv && info_.vulkan_memory_model) {
      memory_model.vulkanMemoryModel = VK_TRUE;
      chain(memory_model);
      enable.push_back(VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    }

    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    if (features.pNext) dci.pNext = &features;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = uint32_t(enable.size());
    dci.ppEnabledExtensionNames = enable.data();
    VITSCOPE_VK_CHECK(vkCreateDevice(physical_, &dci, nullptr, &device_));
    vkGetDeviceQueue(device_, info_.compute_queue_family, 0, &queue_);

    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pci.queueFamilyIndex = info_.compute_queue_family;
    VITSCOPE_VK_CHECK(vkCreateCommandPool(device_, &pci, nullptr, &submit_pool_));

    pipelines_ = std::make_unique<PipelineCache>(*this);
    dummy_ = std::make_unique<Buffer>(*this, 256, BufferKind::Device, "dummy");
  } catch (...) {
    release();
    throw;
  }
}

Context::~Context() { release(); }

namespace {
std::atomic<size_t> g_teardown_messages{0};
}  // namespace

size_t teardown_validation_messages() { return g_teardown_messages.load(); }

void Context::release() {
  if (lost_) {
    // Work may still be running on the device: leak everything rather than free it.
    (void)dummy_.release();
    (void)pipelines_.release();
    return;
  }
  if (device_) vkDeviceWaitIdle(device_);
  dummy_.reset();
  pipelines_.reset();
  if (submit_pool_) vkDestroyCommandPool(device_, submit_pool_, nullptr);
  submit_pool_ = VK_NULL_HANDLE;
  if (device_) vkDestroyDevice(device_, nullptr);
  device_ = VK_NULL_HANDLE;
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
  // Messages no submit has turned into an error yet, including the layer's reports of
  // objects still alive at vkDestroyDevice.
  std::lock_guard<std::mutex> lock(messages_mutex_);
  g_teardown_messages += messages_.size() - messages_checked_;
}

uint32_t Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want,
                                   VkMemoryPropertyFlags prefer) const {
  for (int pass = 0; pass < 2; ++pass) {
    VkMemoryPropertyFlags flags = pass == 0 ? (want | prefer) : want;
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
      if ((type_bits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & flags) == flags)
        return i;
  }
  throw Error("no Vulkan memory type with the required properties on " + info_.name);
}

void Context::submit_and_wait(VkCommandBuffer cb, const std::string& what, uint64_t timeout_ns) {
  if (timeout_ns == 0) timeout_ns = 600ull * 1000 * 1000 * 1000;  // 10 minutes
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence;
  VITSCOPE_VK_CHECK(vkCreateFence(device_, &fci, nullptr, &fence));
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  VkResult r;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    r = vkQueueSubmit(queue_, 1, &si, fence);
  }
  if (r == VK_SUCCESS) r = vkWaitForFences(device_, 1, &fence, VK_TRUE, timeout_ns);
  if (r == VK_TIMEOUT || r == VK_ERROR_DEVICE_LOST) lost_ = true;  // the fence may still be in use
  else vkDestroyFence(device_, fence, nullptr);
  // Test hook (VITSCOPE_FAULT=device-lost): the work has finished and the fence is freed;
  // report a loss through the same path as a real one, without marking the context lost.
  if (r == VK_SUCCESS && fault_device_lost_ && what.find(fault_only_) != std::string::npos)
    r = VK_ERROR_DEVICE_LOST;
  if (r == VK_TIMEOUT) {
    uint64_t ms = timeout_ns / 1000000;
    std::string t = ms >= 10000 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    throw VulkanError(int(r), "GPU work '" + what + "' did not finish within " + t);
  }
  if (r == VK_ERROR_DEVICE_LOST)
    throw VulkanError(int(r), "Vulkan device lost while running '" + what + "'");
  if (r != VK_SUCCESS)
    throw VulkanError(int(r), std::string("Vulkan error ") + result_name(r) + " while running '" +
                                  what + "'");
  check_validation(what);
}

void Context::on_validation_message(const char* text) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.emplace_back(text);
  if (!quiet_) std::fprintf(stderr, "vitscope: validation: %s\n", text);
}

size_t Context::validation_message_count() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_.size();
}

std::vector<std::string> Context::validation_messages() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

void Context::check_validation(const std::string& where) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  if (messages_.size() == messages_checked_) return;
  std::string first = messages_[messages_checked_];
  size_t n = messages_.size() - messages_checked_;
  messages_checked_ = messages_.size();
  throw Error("Vulkan validation reported " + std::to_string(n) + " message(s) during " + where +
              "; first: " + first);
}

}  // namespace vitscope::vk
