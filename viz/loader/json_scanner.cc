#include "viz/loader/json_scanner.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ringlab::viz::loader {

Status JsonScanner::Error(const std::string& what) const {
  size_t off = size_t(p_ - b_);
  size_t line = 1 + size_t(std::count(b_, p_, '\n'));
  return Status::InvalidArgument("trace file '" + name_ + "': " + what + " (at byte " + std::to_string(off) +
                                 ", line " + std::to_string(line) + ")");
}

std::string JsonScanner::Printable(char c) {
  if (c >= 32 && c < 127) return std::string(1, c);
  char buf[8];
  snprintf(buf, sizeof buf, "\\x%02x", (unsigned char)c);
  return buf;
}

Status JsonScanner::ExpectFailed(char c, const char* ctx, const char* field) {
  std::string where = field ? " " + Field(field) : std::string();
  if (p_ >= e_) return Error("unexpected end of file (truncated?) " + std::string(ctx) + where);
  return Error(std::string("expected '") + c + "' " + ctx + where + ", found '" + Printable(*p_) + "'");
}

namespace {

// Appends code unit v as UTF-8 (surrogates are kept as individual code units: names only need to be displayable).
void AppendUtf8(unsigned v, std::string* buf) {
  if (v < 0x80) {
    buf->push_back(char(v));
  } else if (v < 0x800) {
    buf->push_back(char(0xC0 | (v >> 6)));
    buf->push_back(char(0x80 | (v & 0x3F)));
  } else {
    buf->push_back(char(0xE0 | (v >> 12)));
    buf->push_back(char(0x80 | ((v >> 6) & 0x3F)));
    buf->push_back(char(0x80 | (v & 0x3F)));
  }
}

}  // namespace

Status JsonScanner::EscapedString(const char* s, std::string_view* out, std::string* buf) {
  buf->assign(s, size_t(p_ - s));
  while (p_ < e_ && *p_ != '"') {
    char c = *p_++;
    if ((unsigned char)c < 0x20) return Error("control character inside a string");
    if (c != '\\') {
      buf->push_back(c);
      continue;
    }
    if (p_ >= e_) break;
    char x = *p_++;
    switch (x) {
      case '"': buf->push_back('"'); break;
      case '\\': buf->push_back('\\'); break;
      case '/': buf->push_back('/'); break;
      case 'b': buf->push_back('\b'); break;
      case 'f': buf->push_back('\f'); break;
      case 'n': buf->push_back('\n'); break;
      case 'r': buf->push_back('\r'); break;
      case 't': buf->push_back('\t'); break;
      case 'u': {
        if (e_ - p_ < 4) return Error("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
          char h = p_[i];
          v <<= 4;
          if (h >= '0' && h <= '9') v |= unsigned(h - '0');
          else if (h >= 'a' && h <= 'f') v |= unsigned(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') v |= unsigned(h - 'A' + 10);
          else return Error("bad \\u escape");
        }
        p_ += 4;
        AppendUtf8(v, buf);
        break;
      }
      default: return Error(std::string("bad escape '\\") + Printable(x) + "' in a string");
    }
  }
  if (p_ >= e_) return Error("unexpected end of file (truncated?) inside a string");
  ++p_;
  *out = *buf;
  return Status::Ok();
}

Status JsonScanner::GeneralNumber(double* out, const char* fname) {
  const char* s = p_;
  while (p_ < e_ && (std::isdigit((unsigned char)*p_) || *p_ == '-' || *p_ == '+' || *p_ == '.' || *p_ == 'e' ||
                     *p_ == 'E'))
    ++p_;
  double v = 0;
  auto r = std::from_chars(s, p_, v);
  if (r.ec == std::errc::result_out_of_range) {
    p_ = s;
    return Error(Field(fname) + " is out of range ('" + std::string(s, std::min<size_t>(40, size_t(e_ - s))) + "')");
  }
  if (r.ec != std::errc() || r.ptr != p_) {
    p_ = s;
    return Error(Field(fname) + " is not a valid number");
  }
  if (!std::isfinite(v)) return Error(Field(fname) + " is not finite");
  *out = v;
  return Status::Ok();
}

Status JsonScanner::Timestamp(SplitTime* out, const char* fname) {
  Ws();
  // Plain decimals ([-]digits[.digits] with an integer part that fits int64): the whole part exactly, the fraction on its own.
  const char* q = p_;
  const bool neg = q < e_ && *q == '-';
  if (neg) ++q;
  const char* d0 = q;
  while (q < e_ && *q >= '0' && *q <= '9') ++q;
  const char* d1 = q;
  const char* f0 = nullptr;
  if (q < e_ && *q == '.') {
    f0 = ++q;
    while (q < e_ && *q >= '0' && *q <= '9') ++q;
  }
  int64_t whole = 0;
  bool plain = d1 > d0 && d1 - d0 <= 19 && !(d1 - d0 > 1 && *d0 == '0') && (!f0 || q > f0) &&
               !(q < e_ && (*q == 'e' || *q == 'E'));
  for (const char* c = d0; c < d1 && plain; ++c)
    plain = !__builtin_mul_overflow(whole, 10, &whole) && !__builtin_add_overflow(whole, *c - '0', &whole);
  if (plain) {
    double frac = 0;
    if (f0) {
      uint64_t mant = 0;
      double scale = 1;
      for (const char* c = f0; c < q && c - f0 < 18; ++c) mant = mant * 10 + uint64_t(*c - '0'), scale *= 10;
      frac = double(mant) / scale;
    }
    out->whole = neg ? -whole : whole;
    out->frac = neg ? -frac : frac;
    p_ = q;
    return Status::Ok();
  }
  // Exponents, longer numbers and malformed input: through a double (with its messages). Such numbers carry no more
  // digits than a double holds anyway.
  double v = 0;
  RINGLAB_RETURN_IF_ERROR(Number(&v, fname));
  if (!(std::fabs(v) < 9.2e18)) return Error(Field(fname) + " is out of range (|ts| must be below 9.2e18)");
  const double w = std::trunc(v);
  out->whole = int64_t(w);
  out->frac = v - w;
  return Status::Ok();
}

Status JsonScanner::Integer(int64_t* out, const char* fname, int64_t lo, int64_t hi) {
  double v = 0;
  RINGLAB_RETURN_IF_ERROR(Number(&v, fname));
  if (v != std::floor(v)) return Error(Field(fname) + " must be an integer");
  if (v < double(lo) || v > double(hi))
    return Error(Field(fname) + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]");
  *out = int64_t(v);
  return Status::Ok();
}

Status JsonScanner::Skip(int depth) {
  if (depth > kMaxDepth) return Error("nesting deeper than " + std::to_string(kMaxDepth));
  char c = Peek();
  if (c == '\0' && p_ >= e_) return Error("unexpected end of file (truncated?) where a value was expected");
  if (c == '"') {
    std::string_view v;
    return String(&v, &scratch_);
  }
  if (c == '{') {
    ++p_;
    if (Eat('}')) return Status::Ok();
    for (;;) {
      std::string_view k;
      RINGLAB_RETURN_IF_ERROR(String(&k, &scratch_));
      RINGLAB_RETURN_IF_ERROR(Expect(':', "after an object key"));
      RINGLAB_RETURN_IF_ERROR(Skip(depth + 1));
      if (Eat(',')) continue;
      return Expect('}', "to close an object");
    }
  }
  if (c == '[') {
    ++p_;
    if (Eat(']')) return Status::Ok();
    for (;;) {
      RINGLAB_RETURN_IF_ERROR(Skip(depth + 1));
      if (Eat(',')) continue;
      return Expect(']', "to close an array");
    }
  }
  if (NumberStart()) {
    double v;
    return Number(&v, "value");
  }
  for (const char* lit : {"true", "false", "null"}) {
    size_t n = strlen(lit);
    if (size_t(e_ - p_) >= n && memcmp(p_, lit, n) == 0) {
      p_ += n;
      return Status::Ok();
    }
  }
  return Error(std::string("not JSON: unexpected '") + Printable(c) + "'");
}

}  // namespace ringlab::viz::loader
