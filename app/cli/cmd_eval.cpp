// `vitscope-cli eval`: a whole labelled dataset (MNIST-format IDX files) through the
// engine: accuracy, confusion matrix and throughput.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "common.h"
#include "io/idx.h"

namespace vitscope::cli {

namespace {

struct EvalOptions {
  ModelOptions model;
  std::string images, labels, predictions_out;
  int batch = 64;
  int limit = 0;
  bool json = false;
};

void progress(int done, int total, double seconds) {
  const int width = 40;
  int filled = total ? int(int64_t(width) * done / total) : width;
  std::fprintf(stderr, "\r[%.*s%*s] %d/%d  %.0f img/s ", filled, "########################################",
               width - filled, "", done, total, seconds > 0 ? done / seconds : 0.0);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace

void register_eval(CLI::App& app, Action& run) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Accuracy, confusion matrix and images/s over an IDX dataset (MNIST format)");
  o->model.add(*cmd);
  cmd->add_option("--images", o->images, "IDX image file, uint8 [N, H, W] (gzip or raw)")->required();
  cmd->add_option("--labels", o->labels, "IDX label file, uint8 [N] (gzip or raw)")->required();
  cmd->add_option("-b,--batch", o->batch, "Images per forward pass")->check(CLI::Range(1, 4096));
  cmd->add_option("--limit", o->limit, "Only the first N images")->check(CLI::NonNegativeNumber);
  cmd->add_option("--predictions-out", o->predictions_out, "Write the predicted class of each image, one per line");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([&run, o] {
    run = [o] {
      IdxArray images = read_idx(o->images);
      IdxArray labels = read_idx(o->labels);
      if (images.dims.size() != 3)
        throw InputError(o->images + ": expected images [N, H, W], found " + std::to_string(images.dims.size()) + " dimensions");
      if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0])
        throw InputError(o->labels + ": expected " + std::to_string(images.dims[0]) + " labels");
      int n = int(images.dims[0]);
      if (o->limit > 0) n = std::min(n, o->limit);
      const int ih = int(images.dims[1]), iw = int(images.dims[2]);

      LoadedModel lm = load_model(o->model.resolved_model(), o->model.load_options());
      print_warnings(lm);
      const int K = lm.config.num_classes;
      if (K <= 0) throw Error(lm.path + ": eval needs a classifier; the model has no head");
      for (int i = 0; i < n; ++i)
        if (labels.data[size_t(i)] >= K)
          throw InputError(o->labels + ": label " + std::to_string(labels.data[size_t(i)]) + " of image " +
                           std::to_string(i) + " is not below the model's " + std::to_string(K) + " classes");
      vk::ContextOptions co;
      co.device = o->model.device;
      vk::Context ctx(co);
      VitModel model(ctx, std::move(lm), choose_precision(ctx.info(), o->model.precision));
      const VitConfig& c = model.config();
      const size_t per_image = size_t(c.in_chans) * c.img_h * c.img_w;

      std::vector<int> predictions(static_cast<size_t>(n));
      std::vector<int64_t> confusion(size_t(K) * K, 0);
      const bool tty = !o->json && ::isatty(2);
      auto t0 = std::chrono::steady_clock::now();
      std::vector<float> input;
      for (int start = 0; start < n; start += o->batch) {
        int b = std::min(o->batch, n - start);
        input.resize(per_image * size_t(b));
        for (int i = 0; i < b; ++i) {
          Image im{iw, ih, 1, {}};
          const uint8_t* src = images.data.data() + size_t(start + i) * ih * iw;
          im.pixels.assign(src, src + size_t(ih) * iw);
          Preprocessed p = preprocess(im, c.pre, c.in_chans);
          std::copy(p.tensor.begin(), p.tensor.end(), input.begin() + long(per_image * size_t(i)));
        }
        ForwardResult r = model.forward(input.data(), b);
        for (int i = 0; i < b; ++i) {
          const float* p = r.probs.data() + size_t(i) * K;
          int best = int(std::max_element(p, p + K) - p);
          predictions[size_t(start + i)] = best;
          confusion[size_t(labels.data[size_t(start + i)]) * K + best]++;
        }
        if (tty) progress(start + b, n, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      int64_t correct = 0;
      for (int k = 0; k < K; ++k) correct += confusion[size_t(k) * K + k];
      double accuracy = n ? double(correct) / n : 0.0;

      if (!o->predictions_out.empty()) {
        std::ofstream out(o->predictions_out);
        if (!out) throw Error(o->predictions_out + ": cannot write");
        for (int p : predictions) out << p << "\n";
      }
      if (o->json) {
        nlohmann::json j;
        j["model"] = model_json(model);
        j["device"] = ctx.info().name;
        j["images"] = n;
        j["batch"] = o->batch;
        j["correct"] = correct;
        j["accuracy"] = accuracy;
        j["images_per_s"] = seconds > 0 ? n / seconds : 0.0;
        j["seconds"] = seconds;
        auto m = nlohmann::json::array();
        for (int t = 0; t < K; ++t)
          m.push_back(std::vector<int64_t>(confusion.begin() + long(t) * K, confusion.begin() + long(t + 1) * K));
        j["confusion"] = m;
        j["labels"] = c.labels;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("model: %s on %s\n", model.loaded().path.c_str(), ctx.info().name.c_str());
      std::printf("accuracy: %.2f%% (%lld / %d)\n", 100.0 * accuracy, (long long)correct, n);
      std::printf("throughput: %.1f images/s (batch %d, %.2f s)\n", seconds > 0 ? n / seconds : 0.0, o->batch,
                  seconds);
      if (K <= 20) {
        std::printf("confusion matrix (rows: true class, columns: predicted):\n%14s", "");
        for (int k = 0; k < K; ++k) std::printf(" %5d", k);
        std::printf("\n");
        for (int t = 0; t < K; ++t) {
          std::string name = size_t(t) < c.labels.size() ? c.labels[size_t(t)] : std::to_string(t);
          std::printf("%2d %-11.11s", t, name.c_str());
          for (int k = 0; k < K; ++k) std::printf(" %5lld", (long long)confusion[size_t(t) * K + k]);
          std::printf("\n");
        }
      }
      return 0;
    };
  });
}

}  // namespace vitscope::cli
