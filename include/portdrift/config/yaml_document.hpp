#pragma once
// A compact YAML tree, built from yaml-cpp's event parser rather than its
// node graph: about 32 bytes a node and one arena for all scalars, where
// yaml-cpp's own nodes take several hundred bytes each (a 20,000-host
// topology took 300 MB). It keeps what the strict reader needs and yaml-cpp's
// tree loses or hides: every key of a mapping in order, duplicates included,
// and the line and column of every node.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/core/diagnostic.hpp"

namespace portdrift::config {

class Document;
struct NodePair;

// A handle to one node of a Document (which must outlive it). A default
// Node is "undefined". Aliases are followed transparently.
class Node {
 public:
  Node() = default;
  Node(const Document* doc, std::uint32_t index) noexcept : doc_(doc), index_(index) {}

  [[nodiscard]] bool IsDefined() const noexcept { return doc_ != nullptr; }
  [[nodiscard]] bool IsNull() const noexcept;
  [[nodiscard]] bool IsScalar() const noexcept;
  [[nodiscard]] bool IsSequence() const noexcept;
  [[nodiscard]] bool IsMap() const noexcept;
  [[nodiscard]] std::string_view Scalar() const noexcept;  // empty unless a scalar
  [[nodiscard]] SourcePos pos() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;  // items of a sequence, pairs of a mapping

  // Iterates a sequence's items, or a mapping's keys and values alternately
  // (use pairs() for mappings).
  class Iterator {
   public:
    Iterator(const Document* doc, std::uint32_t index) noexcept : doc_(doc), index_(index) {}
    Node operator*() const noexcept { return {doc_, index_}; }
    Iterator& operator++() noexcept;
    bool operator==(const Iterator& o) const noexcept { return index_ == o.index_; }

   private:
    const Document* doc_;
    std::uint32_t index_;
  };
  [[nodiscard]] Iterator begin() const noexcept;
  [[nodiscard]] Iterator end() const noexcept { return {doc_, kNone}; }

  [[nodiscard]] std::vector<NodePair> pairs() const;

  static constexpr std::uint32_t kNone = UINT32_MAX;

 private:
  [[nodiscard]] std::uint32_t resolved() const noexcept;
  const Document* doc_ = nullptr;
  std::uint32_t index_ = 0;
};

struct NodePair {
  Node first;   // key
  Node second;  // value
};

class Document {
 public:
  enum class Kind : std::uint8_t { null, scalar, sequence, map, alias };
  // Entries are stored in event order, so a container's first child (if it
  // has any) is the entry right after it.
  struct Entry {
    std::int32_t line = 0;  // 1-based
    std::int32_t column = 0;
    std::uint32_t next_sibling = Node::kNone;
    std::uint32_t offset = 0;  // scalar: into the arena; alias: the anchored entry
    std::uint32_t length = 0;  // scalar: bytes; containers: number of children
    Kind kind = Kind::null;
  };

  // Parses one YAML document. Syntax errors, a second document and an empty
  // text become diagnostics labelled `file`; the root is undefined then.
  Node parse(std::string text, const std::string& file, Diagnostics& out);

  [[nodiscard]] const Entry& at(std::uint32_t i) const noexcept { return entries_[i]; }
  [[nodiscard]] std::string_view scalar(const Entry& e) const noexcept {
    return std::string_view(arena_).substr(e.offset, e.length);
  }

 private:
  friend class DocumentBuilder;
  std::vector<Entry> entries_;
  std::string arena_;
};

}  // namespace portdrift::config
