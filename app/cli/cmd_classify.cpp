// `vitscope-cli classify`: one image (or a preprocessed tensor) through the model; a
// folder of images with --images (classify_folder.cpp).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "classify.h"
#include "eval_tally.h"
#include "io/npy.h"
#include "io/png.h"
#include "viz/attention_maps.h"

namespace vitscope::cli {

void write_attention(const std::string& dir, const VitModel& model, const ForwardResult& r, const Image* view) {
  namespace fs = std::filesystem;
  const VitConfig& c = model.config();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create folder: " + ec.message());
  const int L = c.depth, H = c.num_heads, N = c.tokens();
  // Image 0 of the batch: (L, H, N, N).
  std::vector<float> first(size_t(L) * H * N * N);
  size_t per_layer = size_t(r.batch) * H * N * N, one = size_t(H) * N * N;
  for (int l = 0; l < L; ++l)
    std::copy_n(r.attention.begin() + long(size_t(l) * per_layer), one, first.begin() + long(size_t(l) * one));
  write_npy(dir + "/attention.npy", {L, H, N, N}, first.data());
  viz::AttentionShape s{L, H, N, c.prefix_tokens(), c.grid_h(), c.grid_w()};
  for (int l = 0; l < L; ++l) {
    auto map = viz::query_attention(first.data(), s, l, -1, viz::HeadFusion::Mean, 0);
    std::vector<unsigned char> img;
    int w, h;
    if (view) {
      w = view->width;
      h = view->height;
      img = viz::overlay(view->pixels.data(), w, h, view->channels, map, c.grid_h(), c.grid_w(), "viridis", 0.6f, false);
    } else {
      // No image: the heat map alone at 16 pixels per patch.
      w = c.grid_w() * 16;
      h = c.grid_h() * 16;
      std::vector<unsigned char> black(size_t(w) * h, 0);
      img = viz::overlay(black.data(), w, h, 1, map, c.grid_h(), c.grid_w(), "viridis", 1.0f, false);
    }
    char name[64];
    std::snprintf(name, sizeof name, "/layer%02d_cls_mean.png", l + 1);
    write_png(dir + name, w, h, 3, img.data());
  }
}

void register_classify(CLI::App& app, Action& run) {
  auto o = std::make_shared<ClassifyOptions>();
  auto* cmd = app.add_subcommand("classify", "Classify an image (or run a preprocessed tensor) and print the top-k classes");
  o->model.add(*cmd);
  auto* img = cmd->add_option("-i,--image", o->image, "Image file (PNG, JPEG, BMP, TGA, GIF)");
  auto* npy = cmd->add_option("--input-npy", o->input_npy,
                              "Preprocessed float32 NCHW tensor (.npy); skips preprocessing");
  auto* dir = cmd->add_option("--images", o->images,
                              "Every image file under DIR (recursively): one JSON line per image to --out (or "
                              "stdout); with --attention-out, one folder per image named after its relative path");
  auto* out = cmd->add_option("-o,--out", o->out,
                              "With --images: the JSON-lines file; images it already has a line for are skipped "
                              "(resume), new lines are appended");
  cmd->add_option("-b,--batch", o->batch, "With --images: images per forward pass (1 with --attention-out)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("-w,--workers", o->workers, "With --images: threads decoding images (default: the machine's cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("-q,--quiet", o->quiet, "With --images: no progress output on stderr");
  img->excludes(npy);
  npy->excludes(img);
  dir->excludes(img);
  dir->excludes(npy);
  out->needs(dir);
  cmd->add_option("-k,--top", o->top, "Number of classes to print")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--attention-out", o->attention_out,
                  "Write DIR/attention.npy (float32 [layers, heads, tokens, tokens]) and a PNG per layer");
  cmd->add_option("--features-out", o->features_out, "Write the pooled features or logits (float32 [B, D]) to FILE.npy");
  add_preprocess_option(*cmd, o->preprocess);
  cmd->callback([&run, o] {
    run = [o] {
      if (!o->images.empty()) return run_classify_folder(*o);
      if (o->image.empty() && o->input_npy.empty())
        throw UsageError("classify needs --image FILE, --images DIR or --input-npy FILE");
      LoadOptions lo = o->model.load_options();
      NpyArray input;
      if (!o->input_npy.empty()) {
        input = read_npy(o->input_npy);
        if (input.shape.size() != 4)
          throw InputError(o->input_npy + ": expected a 4-D NCHW tensor, got " + std::to_string(input.shape.size()) + " dimensions");
        if (input.shape[0] < 1 || input.shape[0] > 4096) throw InputError(o->input_npy + ": batch size out of range");
        if (lo.height == 0) {  // run at the tensor's size
          lo.height = int(input.shape[2]);
          lo.width = int(input.shape[3]);
        }
      }
      std::string path = o->model.resolved_model();
      LoadedModel lm = load_model(path, lo);
      print_warnings(lm);
      apply_preprocess_option(lm, o->preprocess);
      const VitConfig& c = lm.config;
      Preprocessed pre;
      int batch = 1;
      if (!o->image.empty()) {
        pre = model_input(o->image, c);
      } else {
        if (input.shape[1] != c.in_chans || input.shape[2] != c.img_h || input.shape[3] != c.img_w)
          throw InputError(o->input_npy + ": tensor is [" + std::to_string(input.shape[0]) + "," +
                           std::to_string(input.shape[1]) + "," + std::to_string(input.shape[2]) + "," +
                           std::to_string(input.shape[3]) + "], model expects [B," + std::to_string(c.in_chans) +
                           "," + std::to_string(c.img_h) + "," + std::to_string(c.img_w) + "]");
        batch = int(input.shape[0]);
        pre.tensor = std::move(input.data);
        pre.description = "none (preprocessed tensor)";
      }
      vk::ContextOptions co;
      co.device = o->model.device;
      co.kernels = o->model.kernels;
      vk::Context ctx(co);
      VitModel model(ctx, std::move(lm), choose_precision(ctx.info(), o->model.precision));
      ForwardOptions fo;
      fo.keep_attention = !o->attention_out.empty();
      fo.profile = true;  // one pass: per-op times for --json and the GPU time line
      ForwardResult r = model.forward(pre.tensor.data(), batch, fo);

      const int K = r.outputs;
      const bool has_head = model.config().num_classes > 0;
      const auto& labels = model.config().labels;
      auto label = [&](int i) { return size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i); };
      if (!o->attention_out.empty())
        write_attention(o->attention_out, model, r, o->image.empty() ? nullptr : &pre.view);
      if (!o->features_out.empty()) write_npy(o->features_out, {batch, K}, r.logits.data());

      if (o->json) {
        nlohmann::json j;
        j["model"] = model_json(model);
        j["device"] = ctx.info().name;
        j["preprocess"] = pre.description;
        if (!o->image.empty()) {
          const Preprocess& pp = model.config().pre;
          j["preprocess_config"] = {{"pipeline", pp.pipeline},
                                    {"input", {pp.height, pp.width}},
                                    {"interpolation", pp.interpolation},
                                    {"crop_pct", pp.crop_pct},
                                    {"resize_shortest", pp.resize_shortest},
                                    {"squash", pp.squash},
                                    {"center_crop", pp.center_crop},
                                    {"rescale", pp.rescale},
                                    {"mean", pp.mean},
                                    {"std", pp.std}};
        }
        j["batch"] = batch;
        auto tops = nlohmann::json::array();
        for (int b = 0; b < batch; ++b) {
          auto top = nlohmann::json::array();
          if (has_head)
            for (int i : top_k(r.probs.data() + size_t(b) * K, K, o->top))
              top.push_back({{"index", i}, {"label", label(i)}, {"prob", r.probs[size_t(b) * K + size_t(i)]}});
          tops.push_back(top);
        }
        j["top"] = batch == 1 ? tops[0] : tops;
        std::vector<float> first(r.logits.begin(), r.logits.begin() + K);
        if (has_head) j["logits"] = batch == 1 ? nlohmann::json(first) : nlohmann::json(r.logits);
        else j["features"] = batch == 1 ? nlohmann::json(first) : nlohmann::json(r.logits);
        nlohmann::json ops = nlohmann::json::object();
        for (const auto& t : r.op_times) ops[t.label] = ops.value(t.label, 0.0) + t.ms;
        j["timings_ms"] = {{"total", r.wall_ms}, {"gpu", r.gpu_ms}, {"ops", ops}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("model: %s (%s) on %s\n", model.config().architecture.c_str(), model.loaded().path.c_str(),
                  ctx.info().name.c_str());
      std::printf("preprocess: %s\n", pre.description.c_str());
      for (int b = 0; b < batch; ++b) {
        if (batch > 1) std::printf("image %d:\n", b);
        if (has_head) {
          for (int i : top_k(r.probs.data() + size_t(b) * K, K, o->top))
            std::printf("  %6.2f%%  %s (%d)\n", 100.0 * r.probs[size_t(b) * K + size_t(i)], label(i).c_str(), i);
        } else {
          const float* f = r.logits.data() + size_t(b) * K;
          double norm = 0;
          for (int i = 0; i < K; ++i) norm += double(f[i]) * f[i];
          std::printf("  headless model: %d features, L2 norm %.4f, first values %.4f %.4f %.4f %.4f\n", K,
                      std::sqrt(norm), double(f[0]), double(K > 1 ? f[1] : 0), double(K > 2 ? f[2] : 0),
                      double(K > 3 ? f[3] : 0));
        }
      }
      std::printf("time: %.2f ms (GPU %.2f ms)\n", r.wall_ms, r.gpu_ms);
      return 0;
    };
  });
}

}  // namespace vitscope::cli
