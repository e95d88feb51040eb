#include "core/json_file.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "core/input_file.h"

namespace ringlab {
namespace {

using nlohmann::json;

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t next = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

// Tracks the keys of each open object while nlohmann parses, and remembers the first key seen twice in one object.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        scopes_.push_back(Scope{std::set<std::string>{}, ""});
        break;
      case json::parse_event_t::array_start:
        scopes_.push_back(Scope{std::nullopt, "[]"});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!scopes_.empty()) scopes_.pop_back();
        break;
      case json::parse_event_t::key: {
        Scope& s = scopes_.back();
        const std::string key = parsed.get<std::string>();
        if (s.keys && !s.keys->insert(key).second && duplicate_.empty()) duplicate_ = Path() + key;
        s.current = key;
        break;
      }
      default:
        break;
    }
    return true;
  }
  const std::string& duplicate() const { return duplicate_; }

 private:
  struct Scope {
    std::optional<std::set<std::string>> keys;  // empty for an array
    std::string current;                        // the key being read ("[]" inside an array)
  };
  // The dotted name of the object the parser is in, "network." for keys of {"network": {...}}.
  std::string Path() const {
    std::string p;
    for (size_t i = 0; i + 1 < scopes_.size(); ++i) {
      const std::string& c = scopes_[i].current;
      if (c == "[]")
        p += "[]";
      else
        p += (p.empty() ? "" : ".") + c;
    }
    return p.empty() ? p : p + ".";
  }
  std::vector<Scope> scopes_;
  std::string duplicate_;
};

}  // namespace

Status ParseJsonText(std::string_view text, const std::string& origin, json* out) {
  DuplicateKeyFinder finder;
  try {
    *out = json::parse(text.begin(), text.end(), std::ref(finder));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(origin + ": not valid JSON: " + e.what());
  }
  if (!finder.duplicate().empty())
    return Status::InvalidArgument(origin + ": duplicate key " + finder.duplicate() +
                                   " (each key may appear once in its object)");
  return Status::Ok();
}

Status ReadJsonFile(const std::string& path, const std::string& what, json* out) {
  const std::string origin = what + " " + path;
  std::string text;
  if (Status st = ReadInputFile(path, kMaxInputFileBytes, &text); !st.ok())
    return Status::InvalidArgument(origin + ": " + st.message());
  return ParseJsonText(text, origin, out);
}

std::string UnknownKeys(const json& object, const std::string& field, std::initializer_list<std::string_view> known) {
  if (!object.is_object()) return "";
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string_view nearest;
    size_t best = std::max<size_t>(3, key.size() / 3) + 1;  // suggest only close names
    for (std::string_view k : known)
      if (const size_t d = EditDistance(key, k); d < best) best = d, nearest = k;
    std::string known_list;
    for (std::string_view k : known) known_list += (known_list.empty() ? "" : ", ") + std::string(k);
    return "unknown key " + (field.empty() ? "" : field + ".") + key +
           (nearest.empty() ? " (known: " + known_list + ")" : " (did you mean " + std::string(nearest) + "?)");
  }
  return "";
}

}  // namespace ringlab
