// `eval --image-folder DIR`: an ImageFolder-layout dataset, decoded and preprocessed on a
// thread pool (io/batch_loader.h) while the device runs the previous batch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "eval.h"
#include "eval_tally.h"
#include "io/batch_loader.h"
#include "io/image_folder.h"
#include "progress.h"

namespace vitscope::cli {

namespace {

struct ImageResult {
  int item;
  std::vector<int> top;
  std::vector<float> probs;
};

nlohmann::json result_json(const FolderImage& f, const ImageResult& r, const std::vector<std::string>& labels) {
  auto top = nlohmann::json::array();
  for (size_t i = 0; i < r.top.size(); ++i)
    top.push_back({{"index", r.top[i]}, {"label", class_label(labels, r.top[i])}, {"prob", r.probs[i]}});
  return {{"path", f.relative}, {"label", f.label}, {"top", top}};
}

}  // namespace

int run_folder_eval(const EvalOptions& o) {
  LoadedModel lm = load_model(o.model.resolved_model(), o.model.load_options());
  print_warnings(lm);
  apply_preprocess_option(lm, o.preprocess);
  const int K = lm.config.num_classes;
  if (K <= 0) throw Error(lm.path + ": eval needs a classifier; the model has no head");

  ClassFolderOptions fo;
  if (!o.class_map.empty()) fo.class_map = read_name_list(o.class_map);
  else if (K == 1000) fo.synsets = imagenet_synsets();
  ClassFolder data = scan_class_folders(o.image_folder, fo);
  if (!o.class_map.empty()) data.mapping += " " + o.class_map;
  for (const auto& f : data.unmapped_folders)
    std::fprintf(stderr, "vitscope: warning: %s/%s: folder not in the class map, left out\n", o.image_folder.c_str(),
                 f.c_str());
  if (data.images.empty()) throw InputError(o.image_folder + ": no image in the class map's folders");
  for (const auto& im : data.images)
    if (im.label >= K)
      throw InputError(o.image_folder + ": folder '" + data.classes[size_t(im.label)] + "' is class " +
                       std::to_string(im.label) + " but the model has " + std::to_string(K) +
                       " classes (name the folders' class order with --class-map)");
  if (o.limit > 0 && size_t(o.limit) < data.images.size()) data.images.resize(size_t(o.limit));
  const int n = int(data.images.size());

  vk::ContextOptions co;
  co.device = o.model.device;
  co.kernels = o.model.kernels;
  vk::Context ctx(co);
  VitModel model(ctx, std::move(lm), choose_precision(ctx.info(), o.model.precision));
  const VitConfig& c = model.config();
  const size_t per_image = size_t(c.in_chans) * c.img_h * c.img_w;

  std::vector<std::string> paths;
  paths.reserve(data.images.size());
  for (const auto& im : data.images) paths.push_back(im.path);
  BatchLoader::Options lo;
  lo.batch = o.batch;
  lo.workers = o.workers;
  const VitConfig config = c;
  BatchLoader loader(std::move(paths), per_image, [config](const std::string& p) { return model_input(p, config); }, lo);

  EvalTally tally(K);
  std::vector<ImageResult> results;
  std::vector<LoadedBatch::Failure> unreadable;
  const bool keep_results = o.json || !o.predictions_out.empty();
  InterruptGuard guard;
  Progress progress("eval", n, !o.quiet);
  double engine_s = 0.0;
  int done = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (const LoadedBatch* b = loader.next()) {
    for (const auto& f : b->failures) unreadable.push_back(f);
    if (b->rows() > 0) {
      auto e0 = std::chrono::steady_clock::now();
      ForwardResult r = model.forward(b->tensor.data(), b->rows());
      engine_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
      for (int i = 0; i < b->rows(); ++i) {
        const int item = b->items[size_t(i)];
        const float* probs = r.probs.data() + size_t(i) * K;
        std::vector<int> top = tally.add(data.images[size_t(item)].label, probs);
        if (keep_results) {
          ImageResult res{item, top, {}};
          for (int t : top) res.probs.push_back(probs[t]);
          results.push_back(std::move(res));
        }
      }
    }
    done = b->first + b->count;
    progress.update(done);
    if (InterruptGuard::interrupted()) {
      loader.stop();
      break;
    }
  }
  progress.finish(done);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool interrupted = done < n;
  const int64_t evaluated = tally.images;
  const double rate = seconds > 0 ? evaluated / seconds : 0.0;
  const double decode_s = loader.decode_seconds(), wait_s = loader.wait_seconds();
  // What each stage alone could sustain: the engine over its forward passes, decoding over
  // its summed worker time spread across the workers.
  const double engine_rate = engine_s > 0 ? evaluated / engine_s : 0.0;
  const double decode_rate = decode_s > 0 ? done * double(loader.workers()) / decode_s : 0.0;
  const bool decode_bound = decode_rate > 0 && decode_rate < engine_rate;
  const char* bottleneck = decode_bound ? "decoding" : "engine";

  std::vector<std::string> folders = data.classes;
  if (!o.predictions_out.empty()) {
    std::ofstream out(o.predictions_out);
    if (!out) throw Error(o.predictions_out + ": cannot write");
    for (const auto& r : results) out << result_json(data.images[size_t(r.item)], r, c.labels).dump() << "\n";
    if (!out) throw Error(o.predictions_out + ": write error");
  }
  if (o.json) {
    nlohmann::json j = tally_json(tally, c.labels, folders);
    j["model"] = model_json(model);
    j["device"] = ctx.info().name;
    j["image_folder"] = o.image_folder;
    j["class_mapping"] = data.mapping;
    j["files"] = n;
    j["images"] = evaluated;
    j["batch"] = o.batch;
    j["workers"] = loader.workers();
    j["images_per_s"] = rate;
    j["seconds"] = seconds;
    j["timings_s"] = {{"engine", engine_s}, {"decode", decode_s}, {"wait_for_decode", wait_s}};
    j["engine_images_per_s"] = engine_rate;
    j["decode_images_per_s"] = decode_rate;
    j["bottleneck"] = bottleneck;
    j["interrupted"] = interrupted;
    auto bad = nlohmann::json::array();
    for (const auto& f : unreadable) bad.push_back({{"path", data.images[size_t(f.item)].relative}, {"error", f.message}});
    j["unreadable"] = bad;
    auto preds = nlohmann::json::array();
    for (const auto& r : results) preds.push_back(result_json(data.images[size_t(r.item)], r, c.labels));
    j["predictions"] = preds;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& f : unreadable) std::fprintf(stderr, "vitscope: unreadable: %s\n", f.message.c_str());
    std::printf("model: %s on %s\n", model.loaded().path.c_str(), ctx.info().name.c_str());
    std::printf("images: %lld evaluated of %d files in %s (classes: %s), %zu unreadable\n", (long long)evaluated, n,
                o.image_folder.c_str(), data.mapping.c_str(), unreadable.size());
    if (interrupted) std::printf("interrupted: counted the first %d of %d files\n", done, n);
    print_tally(tally, c.labels, folders);
    std::printf("throughput: %.1f images/s (batch %d, %d workers, %.2f s)\n", rate, o.batch, loader.workers(), seconds);
    std::printf("time: engine %.2f s (%.1f images/s alone), decoding+preprocessing %.2f s summed over %d workers "
                "(%.1f images/s), waited %.2f s for decoded images; bottleneck: %s\n",
                engine_s, engine_rate, decode_s, loader.workers(), decode_rate, wait_s, bottleneck);
  }
  return interrupted ? kInterruptedExit : 0;
}

}  // namespace vitscope::cli
