// Inference off the UI thread: a worker thread owns the engine's vk::Context and
// VitModel, loads models, decodes and preprocesses images and runs the forward pass
// with attention kept. One request is pending at a time; a newer request replaces
// a queued one, and a result that a newer request has made stale is dropped.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "image.h"
#include "model/vit_config.h"
#include "vit.h"
#include "vk/context.h"

namespace vitscope::gui {

struct InferenceRequest {
  std::string model_path;  // load this model unless it is the one loaded
  std::string image_path;  // "" : only load the model
  int device = -1;         // engine device index (-1: VITSCOPE_DEVICE or the best)
  int input_h = 0, input_w = 0;  // run the model at this input size (0: its native size)
  std::string checkpoint_key;    // pickled checkpoints: the key holding the weights ("": search)
};

// What the UI shows about the loaded model and the device it runs on.
struct ModelInfo {
  std::string path;
  VitConfig config;
  int64_t parameters = 0;
  uint64_t weight_bytes = 0;
  double gflops = 0.0;
  std::vector<std::string> warnings;
  vk::DeviceInfo device;
  int device_index = -1;  // as requested
  int requested_h = 0, requested_w = 0;  // input size asked for (0: native)
  int native_h = 0, native_w = 0;        // the checkpoint's own input size
};

struct InferenceResult {
  uint64_t id = 0;
  std::shared_ptr<const ModelInfo> model;  // the model now loaded (may be unchanged)
  std::string error;                       // non-empty: the request failed (what was loaded stays)
  bool has_image = false;
  std::string image_path;
  Image original;         // decoded file
  Image view;             // what the model sees, after resize and crop
  std::string preprocess;  // description of the preprocessing
  ForwardResult forward;  // batch 1, attention kept: (L, 1, H, N, N)
};

struct Progress {
  bool busy = false;
  std::string stage;   // e.g. "Running the forward pass"
  float fraction = 0;  // rough share of the work done
  double seconds = 0;  // since the request started
};

class InferenceWorker {
 public:
  InferenceWorker();
  ~InferenceWorker();
  InferenceWorker(const InferenceWorker&) = delete;
  InferenceWorker& operator=(const InferenceWorker&) = delete;

  // Queues a request; returns its id. Replaces a request that has not started.
  uint64_t submit(InferenceRequest request);
  // The newest finished result, if one arrived since the last call.
  std::optional<InferenceResult> poll();
  Progress progress() const;
  bool idle() const;
  // Called from the worker thread when a result is ready (e.g. glfwPostEmptyEvent).
  void set_wake(void (*wake)()) { wake_.store(wake); }
  // Validation messages the engine's context has seen (0 unless validation is on).
  size_t validation_count() const { return validation_count_.load(); }

 private:
  void run();
  InferenceResult process(uint64_t id, const InferenceRequest& r);
  void stage(const char* what, float fraction);
  bool superseded() const;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<std::pair<uint64_t, InferenceRequest>> pending_;
  std::optional<InferenceResult> done_;
  uint64_t next_id_ = 1;
  bool busy_ = false, quit_ = false;
  std::string stage_;
  float fraction_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::atomic<void (*)()> wake_{nullptr};
  std::atomic<size_t> validation_count_{0};

  // Owned by the worker thread.
  std::unique_ptr<vk::Context> ctx_;
  int ctx_device_ = -2;
  size_t retired_messages_ = 0;  // validation messages of contexts already replaced
  std::unique_ptr<VitModel> model_;
  std::shared_ptr<const ModelInfo> info_;

  std::thread thread_;
};

}  // namespace vitscope::gui
