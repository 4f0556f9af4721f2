// Helpers shared by the libFuzzer targets: a private scratch folder (in /dev/shm when
// it exists, so the per-input file writes stay in memory) and a tiny safetensors writer.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fuzz {

inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/vitscope-fuzz-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    return std::string(buf.data());
  }();
  return dir;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    std::abort();
  }
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

inline void write_file(const std::string& path, const std::string& s) {
  write_file(path, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A valid safetensors image: F32 tensors filled with small deterministic values.
inline std::string make_safetensors(const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
  std::string header = "{";
  std::string data;
  uint64_t off = 0;
  for (const auto& [name, shape] : tensors) {
    uint64_t n = 1;
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) {
      n *= uint64_t(shape[i]);
      dims += (i ? "," : "") + std::to_string(shape[i]);
    }
    if (header.size() > 1) header += ",";
    header += "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[" +
              std::to_string(off) + "," + std::to_string(off + n * 4) + "]}";
    for (uint64_t i = 0; i < n; ++i) {
      float v = 0.01f * float(int((i * 7 + name.size()) % 19) - 9);
      char b[4];
      std::memcpy(b, &v, 4);
      data.append(b, 4);
    }
    off += n * 4;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  uint64_t hl = header.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((hl >> (8 * i)) & 0xff);
  return out + header + data;
}

// Tensor lists for a 1-block ViT (C=8, 2 heads, M=16, P=4, 8x8 input, 3 classes).
inline std::vector<std::pair<std::string, std::vector<int64_t>>> tiny_timm() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {"cls_token", {1, 1, 8}}, {"pos_embed", {1, 5, 8}},
      {"patch_embed.proj.weight", {8, 3, 4, 4}}, {"patch_embed.proj.bias", {8}},
      {"norm.weight", {8}}, {"norm.bias", {8}}, {"head.weight", {3, 8}}, {"head.bias", {3}}};
  const std::string b = "blocks.0.";
  for (auto [n, s] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"norm1.weight", {8}}, {"norm1.bias", {8}}, {"attn.qkv.weight", {24, 8}}, {"attn.qkv.bias", {24}},
           {"attn.proj.weight", {8, 8}}, {"attn.proj.bias", {8}}, {"norm2.weight", {8}}, {"norm2.bias", {8}},
           {"mlp.fc1.weight", {16, 8}}, {"mlp.fc1.bias", {16}}, {"mlp.fc2.weight", {8, 16}}, {"mlp.fc2.bias", {8}}})
    t.push_back({b + n, s});
  return t;
}

inline std::vector<std::pair<std::string, std::vector<int64_t>>> tiny_hf() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {"vit.embeddings.cls_token", {1, 1, 8}}, {"vit.embeddings.position_embeddings", {1, 5, 8}},
      {"vit.embeddings.patch_embeddings.projection.weight", {8, 3, 4, 4}},
      {"vit.embeddings.patch_embeddings.projection.bias", {8}},
      {"vit.layernorm.weight", {8}}, {"vit.layernorm.bias", {8}},
      {"classifier.weight", {3, 8}}, {"classifier.bias", {3}}};
  const std::string b = "vit.encoder.layer.0.";
  for (auto [n, s] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"layernorm_before.weight", {8}}, {"layernorm_before.bias", {8}},
           {"attention.attention.query.weight", {8, 8}}, {"attention.attention.query.bias", {8}},
           {"attention.attention.key.weight", {8, 8}}, {"attention.attention.key.bias", {8}},
           {"attention.attention.value.weight", {8, 8}}, {"attention.attention.value.bias", {8}},
           {"attention.output.dense.weight", {8, 8}}, {"attention.output.dense.bias", {8}},
           {"layernorm_after.weight", {8}}, {"layernorm_after.bias", {8}},
           {"intermediate.dense.weight", {16, 8}}, {"intermediate.dense.bias", {16}},
           {"output.dense.weight", {8, 16}}, {"output.dense.bias", {8}}})
    t.push_back({b + n, s});
  return t;
}

}  // namespace fuzz
