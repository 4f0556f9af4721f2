// Decoding and preprocessing of image files on a pool of worker threads, batch by batch,
// running ahead of the consumer so that the device computes batch i while the workers
// prepare batches i+1 .. i+depth-1. A file that cannot be read is a per-item failure with
// its message, never an exception out of the loader.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "image.h"

namespace vitscope {

struct LoadedBatch {
  int first = 0;  // list index of the batch's first item
  int count = 0;  // items of the list in this batch (read or not)
  // Rows of the items that were read, in list order: rows x per_item floats.
  std::vector<float> tensor;
  std::vector<int> items;  // list index of each row
  std::vector<Image> views;  // per row, what the model sees (only with keep_views)
  struct Failure {
    int item;
    std::string message;
  };
  std::vector<Failure> failures;
  int rows() const { return int(items.size()); }
};

class BatchLoader {
 public:
  // Turns one file into the model's input (per_item floats); throws for unreadable files.
  using Decode = std::function<Preprocessed(const std::string& path)>;
  struct Options {
    int batch = 64;
    int workers = 0;  // 0: the machine's cores
    int depth = 3;    // batches in flight (the consumer's plus the ones being prepared)
    bool keep_views = false;
  };
  BatchLoader(std::vector<std::string> paths, size_t per_item, Decode decode, const Options& options);
  ~BatchLoader();  // stops the workers and joins them
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch, in list order; nullptr after the last. The batch stays valid until the
  // next call (which hands its slot back to the workers) or the loader's destruction.
  const LoadedBatch* next();
  // Stops handing out work (workers finish the file they are on).
  void stop();

  int workers() const { return int(threads_.size()); }
  int batches() const { return batches_; }
  // Seconds the workers spent decoding and preprocessing, summed over workers.
  double decode_seconds() const;
  // Seconds next() waited for a batch that was not ready.
  double wait_seconds() const { return wait_s_; }

 private:
  struct Slot {
    LoadedBatch batch;
    std::vector<char> ok;
    std::vector<std::string> errors;
    std::vector<Image> views;
    int done = 0;
  };
  void work();
  int batch_size(int b) const;

  std::vector<std::string> paths_;
  size_t per_item_;
  Decode decode_;
  Options options_;
  int batches_ = 0;
  std::vector<Slot> slots_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  int next_item_ = 0;     // next list index a worker takes
  int consumed_ = 0;      // batches handed back (slots free for batch consumed_ + depth - 1)
  int current_ = -1;      // batch held by the consumer
  bool stopping_ = false;
  double decode_s_ = 0.0;
  double wait_s_ = 0.0;
  std::vector<std::thread> threads_;
};

}  // namespace vitscope
