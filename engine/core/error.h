// Error types thrown by the engine. The CLI and the app catch them at the boundary
// and turn them into one-line messages and exit codes; the engine never exits.
#pragma once
#include <stdexcept>
#include <string>

namespace vitscope {

// Base for every error the engine reports to a user (exit code 1 at the CLI).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A Vulkan call failed; carries the VkResult as an int so this header needs no Vulkan.
class VulkanError : public Error {
 public:
  VulkanError(int result, const std::string& what) : Error(what), result_(result) {}
  int result() const { return result_; }

 private:
  int result_;
};

// No usable Vulkan device or driver.
class NoDeviceError : public Error {
 public:
  using Error::Error;
};

// A model file or config is missing, malformed or inconsistent.
class ModelError : public Error {
 public:
  using Error::Error;
};

// An image or input tensor could not be read.
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace vitscope

#define VIT_ASSERT(cond, msg)                                                           \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::vitscope::Error(std::string("internal error: ") + (msg) + " (" #cond ", " \
                              __FILE__ ":" + std::to_string(__LINE__) + ")");           \
  } while (0)
