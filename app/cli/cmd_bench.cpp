// `vitscope-cli bench`: latency, throughput and per-op GPU time of the recorded forward pass
// on random input, plus peak device memory and host RSS.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include <sys/resource.h>

#include "common.h"

namespace vitscope::cli {

namespace {

struct BenchOptions {
  ModelOptions model;
  int batch = 1;
  int warmup = 2;
  int iters = 10;
  bool json = false;
};

// Peak resident set size of this process (VmHWM), in MiB; 0 where /proc is missing.
double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0.0;
}

// "block7.mlp.fc1+gelu" -> "mlp.fc1+gelu": one row per op kind, summed over the blocks.
std::string op_kind(const std::string& label) {
  if (label.rfind("block", 0) == 0) {
    size_t dot = label.find('.');
    if (dot != std::string::npos) return label.substr(dot + 1);
  }
  return label;
}

// Multiply-adds x 2 of one occurrence of an op kind, per forward of `batch` images; 0 for
// the memory-bound ops (layer norms, copies, softmax of the logits).
double op_flops(const std::string& kind, const VitConfig& c, int batch) {
  double B = batch, N = c.tokens(), C = c.embed_dim, M = c.mlp_hidden, Np = c.num_patches(),
         KK = double(c.in_chans) * c.patch * c.patch, H = c.num_heads, D = c.head_dim(), K = c.output_dim();
  auto has = [&](const char* s) { return kind.find(s) != std::string::npos; };
  if (has("patch_embed.proj")) return 2 * B * Np * KK * C;
  if (has("attn.qkv")) return 2 * B * N * C * 3 * C;
  if (has("attn.proj")) return 2 * B * N * C * C;
  if (has("mlp.fc1")) return 2 * B * N * C * M;
  if (has("mlp.fc2")) return 2 * B * N * M * C;
  if (has("softmax(qk)") || has("attn.pv")) return 2 * B * H * N * N * D;  // one of the two products
  if (kind.rfind("attn", 0) == 0) return 4 * B * H * N * N * D;         // fused attention: both
  if (kind == "head" || kind == "head_dist" || kind == "pooler") return 2 * B * C * K;
  return 0;
}

struct OpRow {
  std::string name;
  int count = 0;       // occurrences per forward
  double ms = 0;       // GPU time per forward (median run)
  double flops = 0;    // per forward
};

// CPU time of this process (all threads, the CPU driver's workers included), in ms.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-3);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void register_bench(CLI::App& app, Action& run) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Latency, images/s and per-op GPU time of the forward pass (random input)");
  o->model.precision = "auto";
  o->model.add(*cmd);
  cmd->add_option("-b,--batch", o->batch, "Images per forward pass")->check(CLI::Range(1, 4096));
  cmd->add_option("--warmup", o->warmup, "Untimed forward passes first")->check(CLI::Range(0, 1000));
  cmd->add_option("--iters", o->iters, "Timed forward passes")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([&run, o] {
    run = [o] {
      LoadedModel lm = load_model(o->model.resolved_model(), o->model.load_options());
      print_warnings(lm);
      vk::ContextOptions co;
      co.device = o->model.device;
      co.kernels = o->model.kernels;
      vk::Context ctx(co);
      Precision precision = choose_precision(ctx.info(), o->model.precision);
      VitModel model(ctx, std::move(lm), precision);
      const VitConfig& c = model.config();
      const int B = o->batch;

      std::vector<float> input(size_t(B) * c.in_chans * c.img_h * c.img_w);
      std::mt19937 rng(1234);
      std::normal_distribution<float> nd(0.f, 1.f);
      for (auto& v : input) v = nd(rng);

      // Latency from unprofiled passes (timestamps cost ~50 us per dispatch on lavapipe),
      // then the per-op table from a few passes of a second recording, the same but profiled.
      for (int i = 0; i < o->warmup; ++i) model.forward(input.data(), B);
      std::vector<double> lat;
      const double cpu0 = process_cpu_ms();
      for (int i = 0; i < o->iters; ++i) lat.push_back(model.forward(input.data(), B).wall_ms);
      const double cpu_per_forward = (process_cpu_ms() - cpu0) / o->iters;
      ForwardOptions profiled;
      profiled.profile = true;
      const int profile_runs = std::min(o->iters, 5);
      std::vector<std::map<std::string, OpRow>> per_run;
      std::vector<std::string> order;  // op kinds in first-seen order
      model.forward(input.data(), B, profiled);  // records the profiled pass
      for (int i = 0; i < profile_runs; ++i) {
        ForwardResult r = model.forward(input.data(), B, profiled);
        std::map<std::string, OpRow> rows;
        for (const auto& t : r.op_times) {
          std::string k = op_kind(t.label);
          OpRow& row = rows[k];
          if (row.count == 0 && i == 0) order.push_back(k);
          row.name = k;
          row.count++;
          row.ms += t.ms;
          row.flops += op_flops(k, c, B);
        }
        per_run.push_back(std::move(rows));
      }
      // Per op: the median over the runs of its time per forward.
      std::vector<OpRow> ops;
      double gpu_total = 0;
      for (const auto& k : order) {
        std::vector<double> ms;
        for (const auto& rows : per_run) ms.push_back(rows.count(k) ? rows.at(k).ms : 0.0);
        OpRow row = per_run[0].at(k);
        row.ms = median(ms);
        gpu_total += row.ms;
        ops.push_back(row);
      }
      std::stable_sort(ops.begin(), ops.end(), [](const OpRow& a, const OpRow& b) { return a.ms > b.ms; });

      const double med = median(lat), mn = *std::min_element(lat.begin(), lat.end()),
                   mx = *std::max_element(lat.begin(), lat.end());
      const double flops = model.flops_per_image() * B;
      const double gflops = flops / (med * 1e-3) * 1e-9;
      const double ips = B / (med * 1e-3);
      const double dev_mb = double(model.weight_bytes() + model.activation_bytes()) / (1 << 20);
      const double rss = peak_rss_mb();
      const char* prec = precision_name(precision);

      if (o->json) {
        nlohmann::json j;
        j["model"] = model_json(model);
        j["batch"] = B;
        j["warmup"] = o->warmup;
        j["iters"] = o->iters;
        j["latency_ms"] = {{"median", med}, {"min", mn}, {"max", mx}};
        j["images_per_s"] = ips;
        j["gflops"] = gflops;
        j["gpu_ms"] = gpu_total;
        j["profiled_runs"] = profile_runs;
        j["process_cpu_ms_per_forward"] = cpu_per_forward;
        auto arr = nlohmann::json::array();
        for (const auto& r : ops)
          arr.push_back({{"name", r.name},
                         {"count", r.count},
                         {"ms", r.ms},
                         {"percent", gpu_total > 0 ? 100.0 * r.ms / gpu_total : 0.0},
                         {"gflops", r.flops > 0 && r.ms > 0 ? r.flops / (r.ms * 1e-3) * 1e-9 : 0.0}});
        j["ops"] = arr;
        j["device"] = ctx.info().name;
        j["driver"] = ctx.info().driver;
        j["precision"] = prec;
        j["kernels"] = vk::kernel_family_name(ctx.info().kernels);
        j["peak_rss_mb"] = rss;
        j["device_memory_mb"] = dev_mb;
        j["weights_mb"] = double(model.weight_bytes()) / (1 << 20);
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("model: %s (%s), %d x %d, batch %d, %s, %s kernels on %s\n", c.architecture.c_str(),
                  model.loaded().path.c_str(), c.img_h, c.img_w, B, prec, vk::kernel_family_name(ctx.info().kernels),
                  ctx.info().name.c_str());
      std::printf("latency: median %.2f ms, min %.2f ms, max %.2f ms over %d runs (%d warm-up)\n", med, mn, mx,
                  o->iters, o->warmup);
      std::printf("throughput: %.2f images/s, %.2f GFLOP/s (%.2f GFLOP per image)\n", ips, gflops,
                  model.flops_per_image() * 1e-9);
      std::printf("process CPU time per forward: %.2f ms (on a CPU Vulkan device this is the work itself, "
                  "less sensitive to other load than the latency)\n", cpu_per_forward);
      std::printf("memory: device %.1f MiB (weights %.1f MiB), host peak RSS %.1f MiB\n", dev_mb,
                  double(model.weight_bytes()) / (1 << 20), rss);
      if (!ops.empty()) {
        std::printf("\nGPU time per op (median of %d profiled passes, summed over blocks; total %.2f ms;\n"
                    "timestamps add a little time per dispatch, so the total can exceed the latency):\n",
                    profile_runs, gpu_total);
        std::printf("  %-28s %5s %10s %7s %9s\n", "op", "count", "ms", "%", "GFLOP/s");
        for (const auto& r : ops) {
          char g[32] = "-";
          if (r.flops > 0 && r.ms > 0) std::snprintf(g, sizeof g, "%.2f", r.flops / (r.ms * 1e-3) * 1e-9);
          std::printf("  %-28s %5d %10.3f %6.1f%% %9s\n", r.name.c_str(), r.count, r.ms,
                      gpu_total > 0 ? 100.0 * r.ms / gpu_total : 0.0, g);
        }
      } else {
        std::printf("(this device has no timestamp queries: no per-op times)\n");
      }
      return 0;
    };
  });
}

}  // namespace vitscope::cli
