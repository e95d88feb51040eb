// The trace loader's JSON tokenizer: a hand-written scanner over the input bytes (a DOM parse of a million-event file
// is several times slower) that reports errors with the byte offset, the line and the field being read. It knows
// nothing about traces: chrome_event.h reads events with it, file_parser.h the top level of a file.
//
//   JsonScanner sc(data, "rank0.json");
//   RINGLAB_RETURN_IF_ERROR(sc.Expect('{', "to open an event object"));
//   std::string_view key;  std::string buf;
//   RINGLAB_RETURN_IF_ERROR(sc.String(&key, &buf));
//
// The hot calls (whitespace, punctuation, plain strings and numbers) are defined here so they inline into the event
// parser; escapes, number fallbacks, skipping and error messages live in json_scanner.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace ringlab::viz::loader {

// A timestamp as read: whole microseconds (exact up to ±9.2e18) plus the fraction, so epoch-scale values (1.7e15 µs,
// or 1.7e18 when a tool writes nanoseconds into ts) keep their sub-microsecond digits until the loader subtracts the
// trace's origin. A double alone keeps only 53 bits: 1.7e18 would be rounded to a multiple of 256.
struct SplitTime {
  int64_t whole = 0;
  double frac = 0;  // same sign as the value, |frac| < 1
  // (this - base) in microseconds, exact while the difference of the whole parts stays below 2^53.
  double Minus(int64_t base) const { return double(__int128(whole) - base) + frac; }
};

// Key comparison with a compile-time length, so it inlines instead of calling memcmp.
template <size_t N>
inline bool KeyIs(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && std::memcmp(k.data(), lit, N - 1) == 0;
}

class JsonScanner {
 public:
  // `name` names the input in messages. `data` must outlive the scanner (strings may point into it).
  JsonScanner(std::string_view data, std::string name)
      : p_(data.data()), b_(data.data()), e_(data.data() + data.size()), name_(std::move(name)) {}

  // Messages about a field of the current event are prefixed "traceEvents[i]" only when an error happens.
  int64_t event_index = -1;
  std::string Field(const char* f) const {
    return event_index >= 0 ? "traceEvents[" + std::to_string(event_index) + "]" + f : std::string(f);
  }
  // InvalidArgument naming the input, the byte offset and the line of the current position.
  Status Error(const std::string& what) const;
  static std::string Printable(char c);

  [[gnu::always_inline]] void Ws() {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool AtEnd() {
    Ws();
    return p_ >= e_;
  }
  char Peek() {
    Ws();
    return p_ < e_ ? *p_ : '\0';
  }
  bool Eat(char c) {
    Ws();
    if (p_ < e_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // Consumes c or fails with "expected 'c' <ctx> <field>".
  Status Expect(char c, const char* ctx, const char* field = nullptr) {
    if (Eat(c)) [[likely]] return Status::Ok();
    return ExpectFailed(c, ctx, field);
  }

  // A JSON string; the view points into the input when there are no escapes, else into *buf.
  Status String(std::string_view* out, std::string* buf) {
    Ws();
    if (p_ >= e_) return Error("unexpected end of file (truncated?) where a string was expected");
    if (*p_ != '"') return Error(std::string("expected a string, found '") + Printable(*p_) + "'");
    const char* s = ++p_;
    // Eight bytes at a time while none is '"', '\\' or a control character.
    while (e_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
      const uint64_t q = w ^ (kOnes * '"'), bs = w ^ (kOnes * '\\');
      const uint64_t hit = ((q - kOnes) & ~q) | ((bs - kOnes) & ~bs) | ((w - kOnes * 0x20) & ~w);
      if (hit & kHigh) break;
      p_ += 8;
    }
    while (p_ < e_ && *p_ != '"' && *p_ != '\\') {
      if ((unsigned char)*p_ < 0x20) return Error("control character inside a string");
      ++p_;
    }
    if (p_ >= e_) return Error("unexpected end of file (truncated?) inside a string");
    if (*p_ == '"') {
      *out = std::string_view(s, size_t(p_ - s));
      ++p_;
      return Status::Ok();
    }
    return EscapedString(s, out, buf);
  }

  bool NumberStart() {
    char c = Peek();
    return c == '-' || (c >= '0' && c <= '9');
  }
  // A finite JSON number; `fname` names the field in messages.
  Status Number(double* out, const char* fname) {
    Ws();
    if (p_ >= e_) return Error("unexpected end of file (truncated?) where " + Field(fname) + " was expected");
    if (!NumberStart()) return Error(Field(fname) + " must be a number, found '" + Printable(*p_) + "'");
    // Fast path for plain decimals ([-]digits[.digits], at most 18 digits): an exact integer over an exact power of
    // ten, so one correctly rounded division gives the same double as from_chars.
    const char* q = p_;
    bool neg = false;
    if (*q == '-') neg = true, ++q;
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    const char* d0 = q;
    while (q < e_ && *q >= '0' && *q <= '9') mant = mant * 10 + uint64_t(*q++ - '0'), ++digits;
    const bool int_ok = q > d0 && !(q - d0 > 1 && *d0 == '0');
    if (int_ok && q < e_ && *q == '.') {
      const char* f0 = ++q;
      while (q < e_ && *q >= '0' && *q <= '9') mant = mant * 10 + uint64_t(*q++ - '0'), ++digits, ++frac;
      if (q == f0) digits = 99;
    }
    if (int_ok && digits <= 18 && (q >= e_ || (*q != 'e' && *q != 'E' && *q != '.' && *q != '-' && *q != '+')) &&
        mant < (uint64_t(1) << 53)) {
      static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                          1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
      double v = double(mant) / kPow10[frac];
      *out = neg ? -v : v;
      p_ = q;
      return Status::Ok();
    }
    return GeneralNumber(out, fname);
  }
  // A timestamp (see SplitTime); values beyond ±9.2e18 are an error naming the field.
  Status Timestamp(SplitTime* out, const char* fname);
  // An integer field: a JSON number with no fraction that fits in [lo, hi].
  Status Integer(int64_t* out, const char* fname, int64_t lo, int64_t hi);
  // Skips any JSON value (nesting at most kMaxDepth below `depth`).
  Status Skip(int depth = 0);
  static constexpr int kMaxDepth = 200;

  const char* pos() const { return p_; }
  void set_pos(const char* p) { p_ = p; }

 private:
  [[gnu::noinline]] Status ExpectFailed(char c, const char* ctx, const char* field);
  // The rest of a string from its first escape; s is just after the opening quote, p_ at the backslash.
  Status EscapedString(const char* s, std::string_view* out, std::string* buf);
  // Numbers the fast path does not take (exponents, long mantissas, malformed input), via from_chars.
  Status GeneralNumber(double* out, const char* fname);

  const char* p_;
  const char* b_;
  const char* e_;
  std::string name_;
  std::string scratch_;  // strings skipped by Skip
};

}  // namespace ringlab::viz::loader
