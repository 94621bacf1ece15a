#include "portdrift/config/yaml_document.hpp"

#include <array>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

namespace portdrift::config {

// --- Node ---------------------------------------------------------------------

std::uint32_t Node::resolved() const noexcept {
  std::uint32_t i = index_;
  for (int hops = 0; hops < 64 && doc_->at(i).kind == Document::Kind::alias; ++hops) i = doc_->at(i).offset;
  return i;
}

bool Node::IsNull() const noexcept { return doc_ == nullptr || doc_->at(resolved()).kind == Document::Kind::null; }
bool Node::IsScalar() const noexcept { return doc_ != nullptr && doc_->at(resolved()).kind == Document::Kind::scalar; }
bool Node::IsSequence() const noexcept {
  return doc_ != nullptr && doc_->at(resolved()).kind == Document::Kind::sequence;
}
bool Node::IsMap() const noexcept { return doc_ != nullptr && doc_->at(resolved()).kind == Document::Kind::map; }

std::string_view Node::Scalar() const noexcept {
  if (!IsScalar()) return {};
  return doc_->scalar(doc_->at(resolved()));
}

SourcePos Node::pos() const noexcept {
  if (doc_ == nullptr) return {};
  const auto& e = doc_->at(index_);  // an alias points at itself, not at its anchor
  return {e.line, e.column};
}

std::size_t Node::size() const noexcept {
  if (doc_ == nullptr) return 0;
  const auto& e = doc_->at(resolved());
  if (e.kind == Document::Kind::sequence) return e.length;
  if (e.kind == Document::Kind::map) return e.length / 2;
  return 0;
}

Node::Iterator& Node::Iterator::operator++() noexcept {
  index_ = doc_->at(index_).next_sibling;
  return *this;
}

Node::Iterator Node::begin() const noexcept {
  if (!IsSequence() && !IsMap()) return end();
  const auto i = resolved();
  return {doc_, doc_->at(i).length == 0 ? kNone : i + 1};
}

std::vector<NodePair> Node::pairs() const {
  std::vector<NodePair> out;
  if (!IsMap()) return out;
  out.reserve(size());
  for (auto it = begin(); it != end(); ++it) {
    Node key = *it;
    ++it;
    out.push_back({key, *it});
  }
  return out;
}

// --- building -----------------------------------------------------------------

namespace {
// A topology has a node for every 6 to 10 bytes of text (`- {protocol: tcp, port: "80"}` is 5 nodes in 30).
constexpr std::size_t kTextBytesPerNode = 8;
}  // namespace

class DocumentBuilder final : public YAML::EventHandler {
 public:
  explicit DocumentBuilder(Document& d) : d_(d) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(Document::Kind::null, mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto i = add(Document::Kind::alias, mark, YAML::NullAnchor);
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      entry(i).kind = Document::Kind::null;
    } else {
      entry(i).offset = it->second;
    }
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    const auto i = add(Document::Kind::scalar, mark, anchor);
    entry(i).offset = store(value);
    entry(i).length = static_cast<std::uint32_t>(value.size());
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({add(Document::Kind::sequence, mark, anchor), Node::kNone});
  }
  void OnSequenceEnd() override { open_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back({add(Document::Kind::map, mark, anchor), Node::kNone});
  }
  void OnMapEnd() override { open_.pop_back(); }

 private:
  struct Open {
    std::uint32_t index;
    std::uint32_t last_child;
  };
  struct Cached {
    std::uint32_t offset = 0;
    std::uint32_t length = UINT32_MAX;  // nothing cached
  };
  static constexpr std::size_t kMaxCached = 32;

  // Keys and values such as `protocol` or `tcp` come back on every host: a small cache of
  // recent short scalars lets a repeat point at the bytes already in the arena.
  std::uint32_t store(std::string_view value) {
    if (value.size() > kMaxCached) return append(value);
    auto& slot = cache_[std::hash<std::string_view>{}(value) % cache_.size()];
    if (slot.length == value.size() && std::string_view(d_.arena_).substr(slot.offset, slot.length) == value) {
      return slot.offset;
    }
    slot = {append(value), static_cast<std::uint32_t>(value.size())};
    return slot.offset;
  }
  std::uint32_t append(std::string_view value) {
    const auto offset = static_cast<std::uint32_t>(d_.arena_.size());
    d_.arena_ += value;
    return offset;
  }

  std::uint32_t add(Document::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    const auto i = static_cast<std::uint32_t>(d_.entries_.size());
    Document::Entry& e = d_.entries_.emplace_back();
    e.kind = kind;
    e.line = mark.line + 1;
    e.column = mark.column + 1;
    if (!open_.empty()) {
      auto& parent = open_.back();
      if (parent.last_child != Node::kNone) entry(parent.last_child).next_sibling = i;
      parent.last_child = i;
      ++entry(parent.index).length;
    }
    if (anchor != YAML::NullAnchor) anchors_[anchor] = i;
    return i;
  }

  Document::Entry& entry(std::uint32_t i) noexcept { return d_.entries_[i]; }

  Document& d_;
  std::vector<Open> open_;
  std::array<Cached, 1024> cache_{};
  std::map<YAML::anchor_t, std::uint32_t> anchors_;
};

namespace {
class Ignore final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};
}  // namespace

Node Document::parse(std::string text, const std::string& file, Diagnostics& out) {
  entries_.clear();
  arena_.clear();
  // Sized from the text so that a large document is one allocation, kept as it is (the
  // document lives only while it is read); a denser text than this only costs a reallocation.
  entries_.reserve(text.size() / kTextBytesPerNode + 16);
  std::istringstream in(std::move(text));
  try {
    YAML::Parser parser(in);
    DocumentBuilder builder(*this);
    if (!parser.HandleNextDocument(builder) || entries_.empty()) {
      out.push_back(Diagnostic{file, {}, "", "the file is empty: expected a YAML mapping"});
      return {};
    }
    Ignore ignore;
    if (parser.HandleNextDocument(ignore)) {
      out.push_back(Diagnostic{file, {}, "", "more than one YAML document (---): a topology is one document"});
      return {};
    }
  } catch (const YAML::ParserException& e) {
    out.push_back(Diagnostic{file, {e.mark.line + 1, e.mark.column + 1}, "", fmt::format("not valid YAML: {}", e.msg)});
    return {};
  } catch (const YAML::Exception& e) {
    out.push_back(Diagnostic{file, {}, "", fmt::format("not valid YAML: {}", e.msg)});
    return {};
  }
  if (at(0).kind == Kind::null) {
    out.push_back(Diagnostic{file, {}, "", "the file is empty: expected a YAML mapping"});
    return {};
  }
  return {this, 0};
}

}  // namespace portdrift::config
