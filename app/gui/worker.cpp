#include "worker.h"

#include "core/error.h"

namespace vitscope::gui {

InferenceWorker::InferenceWorker() { thread_ = std::thread([this] { run(); }); }

InferenceWorker::~InferenceWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
    pending_.reset();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t InferenceWorker::submit(InferenceRequest request) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    pending_ = std::make_pair(id, std::move(request));
  }
  cv_.notify_all();
  return id;
}

std::optional<InferenceResult> InferenceWorker::poll() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<InferenceResult> out = std::move(done_);
  done_.reset();
  return out;
}

Progress InferenceWorker::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Progress p;
  p.busy = busy_ || pending_.has_value();
  p.stage = busy_ ? stage_ : (pending_ ? "Queued" : "");
  p.fraction = busy_ ? fraction_ : 0.f;
  if (busy_) p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return p;
}

bool InferenceWorker::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !busy_ && !pending_ && !done_;
}

void InferenceWorker::stage(const char* what, float fraction) {
  std::lock_guard<std::mutex> lock(mutex_);
  stage_ = what;
  fraction_ = fraction;
}

bool InferenceWorker::superseded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.has_value() || quit_;
}

void InferenceWorker::run() {
  for (;;) {
    std::pair<uint64_t, InferenceRequest> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return quit_ || pending_.has_value(); });
      if (quit_) break;
      job = std::move(*pending_);
      pending_.reset();
      busy_ = true;
      stage_ = "Starting";
      fraction_ = 0;
      started_ = std::chrono::steady_clock::now();
    }
    InferenceResult result = process(job.first, job.second);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
      // A newer request is waiting: this result is stale, the newer one replaces it.
      if (!pending_ && !quit_) done_ = std::move(result);
    }
    if (auto wake = wake_.load()) wake();
  }
  // The model's buffers belong to the context: release them first.
  model_.reset();
  ctx_.reset();
}

InferenceResult InferenceWorker::process(uint64_t id, const InferenceRequest& r) {
  InferenceResult out;
  out.id = id;
  std::string what = "load the model " + r.model_path;
  try {
    const bool need_model = !model_ || !info_ || info_->path != r.model_path || r.device != ctx_device_ ||
                            info_->requested_h != r.input_h || info_->requested_w != r.input_w;
    if (need_model) {
      if (r.model_path.empty()) throw ModelError("no model given and the bundled model was not found");
      stage("Reading the model file", 0.05f);
      if (r.input_h > 0 || r.input_w > 0)
        what = "load the model " + r.model_path + " at " + std::to_string(r.input_h) + "x" + std::to_string(r.input_w);
      LoadOptions lo;
      lo.height = r.input_h;
      lo.width = r.input_w;
      lo.checkpoint_key = r.checkpoint_key;
      LoadedModel lm = load_model(r.model_path, lo);
      std::unique_ptr<vk::Context> fresh;
      vk::Context* ctx = ctx_.get();
      if (!ctx_ || r.device != ctx_device_) {
        stage("Starting the Vulkan device", 0.15f);
        vk::ContextOptions co;
        co.device = r.device;
        fresh = std::make_unique<vk::Context>(co);
        ctx = fresh.get();
      }
      stage("Uploading the weights", 0.3f);
      auto model = std::make_unique<VitModel>(*ctx, std::move(lm));
      auto info = std::make_shared<ModelInfo>();
      info->path = r.model_path;
      info->config = model->config();
      info->parameters = model->parameter_count();
      info->weight_bytes = model->weight_bytes();
      info->gflops = model->flops_per_image() * 1e-9;
      info->warnings = model->loaded().warnings;
      info->device = ctx->info();
      info->device_index = r.device;
      info->requested_h = r.input_h;
      info->requested_w = r.input_w;
      // At the native size the config says it; otherwise the stored position table
      // (one row per patch of the native grid) does.
      const VitConfig& c = info->config;
      const bool native = r.input_h <= 0 && r.input_w <= 0;
      info->native_h = native || !c.has_pos_embed ? c.img_h : c.pos_grid_h * c.patch;
      info->native_w = native || !c.has_pos_embed ? c.img_w : c.pos_grid_w * c.patch;
      // Success: swap in (the old model goes before the context it lives on).
      model_.reset();
      if (fresh) {
        if (ctx_) retired_messages_ += ctx_->validation_message_count();
        ctx_ = std::move(fresh);
        ctx_device_ = r.device;
      }
      model_ = std::move(model);
      info_ = std::move(info);
    }
    out.model = info_;
    if (!r.image_path.empty() && !superseded()) {
      what = "open the image " + r.image_path;
      stage("Decoding the image", 0.45f);
      Image im = load_image(r.image_path);
      const VitConfig& c = model_->config();
      stage("Preprocessing", 0.5f);
      Preprocessed pre = preprocess(im, c.pre, c.in_chans);
      what = "run the model on " + r.image_path;
      stage("Running the forward pass", 0.6f);
      ForwardOptions fo;
      fo.keep_attention = true;
      fo.profile = true;  // the timings panel
      out.forward = model_->forward(pre.tensor.data(), 1, fo);
      stage("Done", 1.0f);
      out.original = std::move(im);
      out.view = std::move(pre.view);
      out.preprocess = std::move(pre.description);
      out.image_path = r.image_path;
      out.has_image = true;
    }
  } catch (const std::bad_alloc&) {
    out.error = "Could not " + what + ": out of memory";
  } catch (const std::exception& e) {
    out.error = "Could not " + what + ":\n" + e.what();
  }
  out.model = info_;
  if (ctx_) validation_count_.store(retired_messages_ + ctx_->validation_message_count());
  return out;
}

}  // namespace vitscope::gui
