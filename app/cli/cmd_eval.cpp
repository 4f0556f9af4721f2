// `vitscope-cli eval`: a whole labelled dataset through the engine: top-1/top-5, per-class
// accuracy, confusion matrix and throughput. Two sources: MNIST-format IDX files
// (--images/--labels) or an image folder in torchvision's ImageFolder layout
// (--image-folder, eval_folder.cpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "common.h"
#include "eval.h"
#include "eval_tally.h"
#include "io/idx.h"
#include "progress.h"

namespace vitscope::cli {

namespace {

int run_idx_eval(const EvalOptions& o) {
  IdxArray images = read_idx(o.images);
  IdxArray labels = read_idx(o.labels);
  if (images.dims.size() != 3)
    throw InputError(o.images + ": expected images [N, H, W], found " + std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0])
    throw InputError(o.labels + ": expected " + std::to_string(images.dims[0]) + " labels");
  int n = int(images.dims[0]);
  if (o.limit > 0) n = std::min(n, o.limit);
  const int ih = int(images.dims[1]), iw = int(images.dims[2]);

  LoadedModel lm = load_model(o.model.resolved_model(), o.model.load_options());
  print_warnings(lm);
  apply_preprocess_option(lm, o.preprocess);
  const int K = lm.config.num_classes;
  if (K <= 0) throw Error(lm.path + ": eval needs a classifier; the model has no head");
  for (int i = 0; i < n; ++i)
    if (labels.data[size_t(i)] >= K)
      throw InputError(o.labels + ": label " + std::to_string(labels.data[size_t(i)]) + " of image " +
                       std::to_string(i) + " is not below the model's " + std::to_string(K) + " classes");
  vk::ContextOptions co;
  co.device = o.model.device;
  co.kernels = o.model.kernels;
  vk::Context ctx(co);
  VitModel model(ctx, std::move(lm), choose_precision(ctx.info(), o.model.precision));
  const VitConfig& c = model.config();
  const size_t per_image = size_t(c.in_chans) * c.img_h * c.img_w;

  std::vector<int> predictions;
  EvalTally tally(K);
  InterruptGuard guard;
  Progress progress("eval", n, !o.quiet);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> input;
  int done = 0;
  for (int start = 0; start < n && !InterruptGuard::interrupted(); start += o.batch) {
    int b = std::min(o.batch, n - start);
    input.resize(per_image * size_t(b));
    for (int i = 0; i < b; ++i) {
      Image im{iw, ih, 1, {}};
      const uint8_t* src = images.data.data() + size_t(start + i) * ih * iw;
      im.pixels.assign(src, src + size_t(ih) * iw);
      Preprocessed p = preprocess(im, c.pre, c.in_chans);
      std::copy(p.tensor.begin(), p.tensor.end(), input.begin() + long(per_image * size_t(i)));
    }
    ForwardResult r = model.forward(input.data(), b);
    for (int i = 0; i < b; ++i)
      predictions.push_back(tally.add(labels.data[size_t(start + i)], r.probs.data() + size_t(i) * K)[0]);
    done = start + b;
    progress.update(done);
  }
  progress.finish(done);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool interrupted = done < n;
  const double rate = seconds > 0 ? done / seconds : 0.0;

  if (!o.predictions_out.empty()) {
    std::ofstream out(o.predictions_out);
    if (!out) throw Error(o.predictions_out + ": cannot write");
    for (int p : predictions) out << p << "\n";
  }
  if (o.json) {
    nlohmann::json j = tally_json(tally, c.labels, {});
    j["model"] = model_json(model);
    j["device"] = ctx.info().name;
    j["images"] = done;
    j["batch"] = o.batch;
    j["images_per_s"] = rate;
    j["seconds"] = seconds;
    j["interrupted"] = interrupted;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model: %s on %s\n", model.loaded().path.c_str(), ctx.info().name.c_str());
    if (interrupted) std::printf("interrupted: counted %d of %d images\n", done, n);
    print_tally(tally, c.labels, {});
    std::printf("throughput: %.1f images/s (batch %d, %.2f s)\n", rate, o.batch, seconds);
  }
  return interrupted ? kInterruptedExit : 0;
}

}  // namespace

void register_eval(CLI::App& app, Action& run) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand(
      "eval", "Top-1/top-5, per-class accuracy, confusion matrix and images/s over a labelled dataset: "
              "an image folder (one sub-folder per class) or IDX files (MNIST format)");
  o->model.add(*cmd);
  auto* folder = cmd->add_option("--image-folder", o->image_folder,
                                 "Folder with one sub-folder per class (torchvision's ImageFolder layout): sorted "
                                 "folder names are classes 0..K-1; searched recursively for image files");
  auto* images = cmd->add_option("--images", o->images, "IDX image file, uint8 [N, H, W] (gzip or raw)");
  auto* labels = cmd->add_option("--labels", o->labels, "IDX label file, uint8 [N] (gzip or raw)");
  images->needs(labels);
  labels->needs(images);
  folder->excludes(images);
  folder->excludes(labels);
  cmd->add_option("--class-map", o->class_map,
                  "With --image-folder: text file naming one class folder per line, in the model's class order")
      ->needs(folder);
  cmd->add_option("-b,--batch", o->batch, "Images per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("-w,--workers", o->workers,
                  "With --image-folder: threads decoding and preprocessing images (default: the machine's cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--limit", o->limit, "Only the first N images")->check(CLI::NonNegativeNumber);
  cmd->add_option("--predictions-out", o->predictions_out,
                  "IDX: the predicted class of each image, one per line. Image folder: one JSON line per image "
                  "(path, true class, top-5 with probabilities)");
  add_preprocess_option(*cmd, o->preprocess);
  cmd->add_flag("--json", o->json, "Print one JSON object (image folder: with every image's top-5)");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress output on stderr");
  cmd->callback([&run, o] {
    run = [o] {
      if (!o->image_folder.empty()) return run_folder_eval(*o);
      if (o->images.empty()) throw UsageError("eval needs --image-folder DIR or --images FILE --labels FILE");
      return run_idx_eval(*o);
    };
  });
}

}  // namespace vitscope::cli
