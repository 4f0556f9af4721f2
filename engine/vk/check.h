// VITSCOPE_VK_CHECK: turn a failing VkResult into a VulkanError naming the call.
#pragma once
#include <vulkan/vulkan.h>

#include <string>

#include "core/error.h"

namespace vitscope::vk {

const char* result_name(VkResult r);

[[noreturn]] void throw_vk_error(VkResult r, const char* expr, const char* file, int line);

}  // namespace vitscope::vk

#define VITSCOPE_VK_CHECK(expr)                                                 \
  do {                                                                          \
    VkResult vitscope_r_ = (expr);                                              \
    if (vitscope_r_ != VK_SUCCESS)                                              \
      ::vitscope::vk::throw_vk_error(vitscope_r_, #expr, __FILE__, __LINE__);   \
  } while (0)
