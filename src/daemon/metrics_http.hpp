#pragma once
// Private to the metrics endpoint: how far a request as received has come,
// shared by the server (metrics.cpp: read until whole or hopeless) and
// answer_request (metrics_http.cpp).

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "portdrift/daemon/metrics.hpp"

namespace portdrift::daemon {

struct Parsed {
  enum class Stage : std::uint8_t { need_more, done, bad, head_too_large, body_too_large };
  Stage stage = Stage::need_more;
  bool head_done = false;
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string target;
  std::string authorization;  // the Authorization header, if any
};

// Parses `raw` from its start with Beast's parser under kMaxRequestHead and kMaxRequestBody.
Parsed parse_request(std::string_view raw);

}  // namespace portdrift::daemon
