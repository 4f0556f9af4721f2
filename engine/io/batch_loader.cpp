#include "io/batch_loader.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace vitscope {

BatchLoader::BatchLoader(std::vector<std::string> paths, size_t per_item, Decode decode, const Options& options)
    : paths_(std::move(paths)), per_item_(per_item), decode_(std::move(decode)), options_(options) {
  options_.batch = std::max(1, options_.batch);
  options_.depth = std::max(2, options_.depth);
  int n = int(paths_.size());
  batches_ = (n + options_.batch - 1) / options_.batch;
  slots_.resize(size_t(std::min(options_.depth, std::max(batches_, 1))));
  for (Slot& s : slots_) {
    s.batch.tensor.resize(size_t(options_.batch) * per_item_);
    s.ok.assign(size_t(options_.batch), 0);
    s.errors.resize(size_t(options_.batch));
    if (options_.keep_views) s.views.resize(size_t(options_.batch));
  }
  int workers = options_.workers > 0 ? options_.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  workers = std::min(workers, std::max(1, n));
  for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
  stop();
  for (auto& t : threads_) t.join();
}

void BatchLoader::stop() {
  std::lock_guard<std::mutex> lk(mu_);
  stopping_ = true;
  work_cv_.notify_all();
  ready_cv_.notify_all();
}

int BatchLoader::batch_size(int b) const {
  return std::min(options_.batch, int(paths_.size()) - b * options_.batch);
}

double BatchLoader::decode_seconds() const {
  std::lock_guard<std::mutex> lk(mu_);
  return decode_s_;
}

void BatchLoader::work() {
  const int n = int(paths_.size());
  const int depth = int(slots_.size());
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_ && next_item_ < n) {
    const int i = next_item_, b = i / options_.batch, j = i - b * options_.batch;
    if (b >= consumed_ + depth) {  // that batch's slot is still the consumer's
      work_cv_.wait(lk);
      continue;
    }
    ++next_item_;
    Slot& s = slots_[size_t(b % depth)];
    float* dst = s.batch.tensor.data() + size_t(j) * per_item_;
    lk.unlock();

    auto t0 = std::chrono::steady_clock::now();
    bool ok = false;
    std::string error;
    Image view;
    try {
      Preprocessed p = decode_(paths_[size_t(i)]);
      if (p.tensor.size() != per_item_) {
        error = paths_[size_t(i)] + ": preprocessing gave " + std::to_string(p.tensor.size()) + " values, the model takes " +
                std::to_string(per_item_);
      } else {
        std::memcpy(dst, p.tensor.data(), per_item_ * sizeof(float));
        if (options_.keep_views) view = std::move(p.view);
        ok = true;
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    lk.lock();
    s.ok[size_t(j)] = ok;
    s.errors[size_t(j)] = std::move(error);
    if (options_.keep_views) s.views[size_t(j)] = std::move(view);
    decode_s_ += seconds;
    if (++s.done == batch_size(b)) ready_cv_.notify_all();
  }
}

const LoadedBatch* BatchLoader::next() {
  std::unique_lock<std::mutex> lk(mu_);
  const int depth = int(slots_.size());
  if (current_ >= 0 && current_ < batches_) {  // hand the consumer's slot back
    Slot& s = slots_[size_t(current_ % depth)];
    s.done = 0;
    s.batch.tensor.resize(size_t(options_.batch) * per_item_);
    std::fill(s.ok.begin(), s.ok.end(), 0);
    consumed_ = current_ + 1;
    work_cv_.notify_all();
  }
  const int b = current_ + 1;
  if (b >= batches_ || stopping_) {
    current_ = std::min(b, batches_);
    return nullptr;
  }
  Slot& s = slots_[size_t(b % depth)];
  const int size = batch_size(b);
  auto t0 = std::chrono::steady_clock::now();
  ready_cv_.wait(lk, [&] { return stopping_ || s.done == size; });
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (s.done != size) return nullptr;
  current_ = b;

  // Rows of the files that were read, moved together in list order.
  LoadedBatch& out = s.batch;
  out.first = b * options_.batch;
  out.count = size;
  out.items.clear();
  out.failures.clear();
  out.views.clear();
  for (int j = 0; j < size; ++j) {
    if (!s.ok[size_t(j)]) {
      out.failures.push_back({out.first + j, std::move(s.errors[size_t(j)])});
      continue;
    }
    const size_t row = out.items.size();
    if (row != size_t(j))
      std::memmove(out.tensor.data() + row * per_item_, out.tensor.data() + size_t(j) * per_item_, per_item_ * sizeof(float));
    out.items.push_back(out.first + j);
    if (options_.keep_views) out.views.push_back(std::move(s.views[size_t(j)]));
  }
  out.tensor.resize(out.items.size() * per_item_);
  return &out;
}

}  // namespace vitscope
