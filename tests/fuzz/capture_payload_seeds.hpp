// Used only by capture_payload_seeds: saves a (request, reply) pair the unit
// tests hand to a check() as a payloads_fuzz input when the request is the
// fuzzer's own (same payload, the tests' context with seed 42).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "portdrift/payloads/payloads.hpp"

using portdrift::payloads::Reply;
using View = std::span<const std::uint8_t>;

inline void record(View request, View reply) {
  const char* dir = std::getenv("PD_SEED_DIR");
  if (dir == nullptr) return;
  const auto all = portdrift::payloads::all();
  portdrift::payloads::Context ctx;
  ctx.seed = 42;
  ctx.local = {198, 18, 0, 1};
  ctx.local_port = 40000;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto req = all[i].build(ctx);
    if (!req || !std::equal(req->begin(), req->end(), request.begin(), request.end())) continue;
    std::string bytes(1, static_cast<char>(i));
    bytes.append(reinterpret_cast<const char*>(reply.data()), reply.size());
    static std::set<std::string> seen;
    if (!seen.insert(bytes).second) return;
    const std::string name = std::string(dir) + "/" + std::string(all[i].name) + "-" + std::to_string(seen.size());
    if (FILE* f = std::fopen(name.c_str(), "wb")) {
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
    return;
  }
}
