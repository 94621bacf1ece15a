#include "rtt_estimator.hpp"

#include <algorithm>

namespace portdrift::probe::detail {

RttEstimator::RttEstimator(Params p) noexcept : params_(p) {
  params_.floor = std::min(params_.floor, params_.ceiling);  // T is the upper bound, even below the floor
  params_.max_widen = std::max<std::uint32_t>(params_.max_widen, 1);
}

void RttEstimator::observe(Duration rtt) noexcept {
  rtt = std::max(rtt, Duration::zero());
  if (samples_ == 0) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    const Duration delta = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
    rttvar_ = (3 * rttvar_ + delta) / 4;
    srtt_ = (7 * srtt_ + rtt) / 8;
  }
  if (samples_ < UINT32_MAX) ++samples_;
}

void RttEstimator::widen() noexcept { widen_ = std::min(widen_ * 2, params_.max_widen); }

void RttEstimator::restore(Duration srtt, Duration rttvar, std::uint32_t samples, std::uint32_t widen) noexcept {
  srtt_ = std::max(srtt, Duration::zero());
  rttvar_ = std::max(rttvar, Duration::zero());
  samples_ = samples;
  widen_ = std::clamp<std::uint32_t>(widen, 1, params_.max_widen);
}

RttEstimator::Duration RttEstimator::timeout() const noexcept {
  if (!trusted()) return params_.ceiling;
  // Compared in the ceiling's terms first: widen * (srtt + k*rttvar) of a slow path must not overflow.
  const Duration base = srtt_ + static_cast<Duration::rep>(params_.k) * rttvar_;
  if (base >= params_.ceiling / widen_) return params_.ceiling;
  return std::clamp(base * widen_, params_.floor, params_.ceiling);
}

}  // namespace portdrift::probe::detail
