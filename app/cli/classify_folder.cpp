// `classify --images DIR`: every image under a folder through the model, one JSON line per
// image (resumable), decoding on the worker pool while the device runs the previous batch;
// with --attention-out, one attention file set per image.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "classify.h"
#include "eval_tally.h"
#include "io/batch_loader.h"
#include "io/image_folder.h"
#include "progress.h"

namespace vitscope::cli {

namespace {

namespace fs = std::filesystem;

// The "path" of every line already in `file`. A last line cut short (a run killed while
// writing) is cut off the file; any other line that is not a JSON object with a "path" is an
// error (the file is not a results file of this command).
std::set<std::string> read_done(const std::string& file) {
  std::set<std::string> done;
  std::error_code ec;
  if (!fs::exists(file, ec)) return done;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file + ": cannot read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // unterminated last line: drop it
      std::fprintf(stderr, "vitscope: warning: %s: last line incomplete (an interrupted run?), dropped\n", file.c_str());
      fs::resize_file(file, pos, ec);
      if (ec) throw Error(file + ": cannot truncate: " + ec.message());
      break;
    }
    ++line_no;
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("path") || !j["path"].is_string())
      throw InputError(file + ": line " + std::to_string(line_no) +
                       " is not a result line ({\"path\": ...}); not appending to this file");
    done.insert(j["path"].get<std::string>());
  }
  return done;
}

}  // namespace

int run_classify_folder(const ClassifyOptions& o) {
  if (!o.features_out.empty()) throw UsageError("--features-out takes one image; with --images the JSON lines hold the results");
  std::vector<FolderImage> all = list_images(o.images);
  if (all.empty()) throw InputError(o.images + ": no image files (jpg jpeg png ppm bmp pgm tif tiff webp gif tga)");
  std::vector<std::string> all_names = output_names(all);

  std::set<std::string> done_before;
  if (!o.out.empty()) done_before = read_done(o.out);
  std::vector<FolderImage> todo;
  std::vector<std::string> names;
  for (size_t i = 0; i < all.size(); ++i)
    if (!done_before.count(all[i].relative)) {
      todo.push_back(all[i]);
      names.push_back(all_names[i]);
    }
  const int skipped = int(all.size() - todo.size());

  LoadedModel lm = load_model(o.model.resolved_model(), o.model.load_options());
  print_warnings(lm);
  apply_preprocess_option(lm, o.preprocess);
  vk::ContextOptions co;
  co.device = o.model.device;
  co.kernels = o.model.kernels;
  vk::Context ctx(co);
  VitModel model(ctx, std::move(lm), choose_precision(ctx.info(), o.model.precision));
  const VitConfig& c = model.config();
  const size_t per_image = size_t(c.in_chans) * c.img_h * c.img_w;
  const bool attention = !o.attention_out.empty();
  const bool has_head = c.num_classes > 0;

  std::FILE* out = stdout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
  if (!o.out.empty()) {
    file.reset(std::fopen(o.out.c_str(), "a"));
    if (!file) throw Error(o.out + ": cannot open for appending");
    out = file.get();
  }

  std::vector<std::string> paths;
  for (const auto& im : todo) paths.push_back(im.path);
  BatchLoader::Options lo;
  lo.batch = attention ? 1 : o.batch;  // the attention of every layer is kept per image
  lo.workers = o.workers;
  lo.keep_views = attention;
  const VitConfig config = c;
  BatchLoader loader(std::move(paths), per_image, [config](const std::string& p) { return model_input(p, config); }, lo);
  ForwardOptions fo;
  fo.keep_attention = attention;

  InterruptGuard guard;
  Progress progress("classify", int(todo.size()), !o.quiet && out != stdout);
  int done = 0, classified = 0, unreadable = 0;
  while (const LoadedBatch* b = loader.next()) {
    std::vector<std::string> lines(size_t(b->count));
    for (const auto& f : b->failures) {
      lines[size_t(f.item - b->first)] =
          nlohmann::json{{"path", todo[size_t(f.item)].relative}, {"error", f.message}}.dump();
      ++unreadable;
    }
    if (b->rows() > 0) {
      ForwardResult r = model.forward(b->tensor.data(), b->rows(), fo);
      const int K = r.outputs;
      for (int i = 0; i < b->rows(); ++i) {
        const int item = b->items[size_t(i)];
        nlohmann::json j = {{"path", todo[size_t(item)].relative}};
        const float* p = (has_head ? r.probs.data() : r.logits.data()) + size_t(i) * K;
        if (has_head) {
          auto top = nlohmann::json::array();
          for (int k : top_k(p, K, o.top)) top.push_back({{"index", k}, {"label", class_label(c.labels, k)}, {"prob", p[k]}});
          j["top"] = top;
        } else {
          j["features"] = std::vector<float>(p, p + K);
        }
        if (attention) {
          std::string dir = (fs::path(o.attention_out) / names[size_t(item)]).string();
          write_attention(dir, model, r, &b->views[size_t(i)]);
          j["attention"] = dir;
        }
        lines[size_t(item - b->first)] = j.dump();
        ++classified;
      }
    }
    for (const auto& l : lines) std::fprintf(out, "%s\n", l.c_str());
    std::fflush(out);
    if (std::ferror(out)) throw Error((o.out.empty() ? std::string("stdout") : o.out) + ": write error");
    done = b->first + b->count;
    progress.update(done);
    if (InterruptGuard::interrupted()) {
      loader.stop();
      break;
    }
  }
  progress.finish(done);
  const bool interrupted = done < int(todo.size());
  std::fprintf(stderr, "classify: %d images classified, %d unreadable%s%s", classified, unreadable,
               skipped ? (", " + std::to_string(skipped) + " already in " + o.out).c_str() : "",
               interrupted ? (", interrupted: " + std::to_string(int(todo.size()) - done) + " left (run again to resume)").c_str() : "");
  std::fprintf(stderr, "\n");
  return interrupted ? kInterruptedExit : 0;
}

}  // namespace vitscope::cli
