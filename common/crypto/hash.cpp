#include "common/crypto/hash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace pw::crypto {
namespace {

struct MdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdPtr = std::unique_ptr<EVP_MD, MdDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// OpenSSL failing to initialise or run a digest means allocation failure or a broken
// installation, not bad input; the void-returning Hasher API reports it by throwing.
[[noreturn]] void digest_failure(const char* what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::string message = std::string("OpenSSL digest failure: ") + what;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  throw std::runtime_error(message);
}

// Explicitly fetched once per process: EVP_sha256() and friends would make every
// EVP_DigestInit_ex repeat an implicit provider lookup.
const EVP_MD* fetch_md(HashAlgorithm algorithm) {
  static const MdPtr sha256{EVP_MD_fetch(nullptr, "SHA2-256", nullptr)};
  static const MdPtr sha512{EVP_MD_fetch(nullptr, "SHA2-512", nullptr)};
  const EVP_MD* md = algorithm == HashAlgorithm::sha256 ? sha256.get() : sha512.get();
  if (md == nullptr) digest_failure(hash_name(algorithm));
  return md;
}

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string errno_message(const std::string& path, const char* what, int error) {
  return path + ": " + what + ": " + std::strerror(error);
}

}  // namespace

const char* hash_name(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::sha256:
      return "sha256";
    case HashAlgorithm::sha512:
      return "sha512";
  }
  return "unknown";
}

struct Hasher::Impl {
  MdCtxPtr ctx;
  const EVP_MD* md = nullptr;

  void init() {
    if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) digest_failure("EVP_DigestInit_ex2");
  }
};

Hasher::Hasher(HashAlgorithm algorithm) : impl_(std::make_unique<Impl>()), algorithm_(algorithm) {
  impl_->md = fetch_md(algorithm);
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx) digest_failure("EVP_MD_CTX_new");
  impl_->init();
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) {
  if (!impl_) throw std::logic_error("Hasher::update on a moved-from Hasher");
  if (size == 0) return;
  if (EVP_DigestUpdate(impl_->ctx.get(), data, size) != 1) digest_failure("EVP_DigestUpdate");
}

Bytes Hasher::finish() {
  if (!impl_) throw std::logic_error("Hasher::finish on a moved-from Hasher");
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(impl_->md)));
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &size) != 1) {
    digest_failure("EVP_DigestFinal_ex");
  }
  out.resize(size);
  // Leave the Hasher usable (as a fresh one) rather than in OpenSSL's finalised state.
  impl_->init();
  return out;
}

Bytes digest(HashAlgorithm algorithm, std::string_view data) {
  Hasher hasher(algorithm);
  hasher.update(data);
  return hasher.finish();
}

std::string sha256_hex(std::string_view data) {
  return to_hex(digest(HashAlgorithm::sha256, data));
}

Result<std::string> random_hex(std::size_t bytes) {
  Bytes buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    return make_error(Errc::crypto, "the random number generator failed");
  }
  return to_hex(buffer);
}

std::string to_hex(const Bytes& bytes) {
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0x0f];
  }
  return out;
}

Result<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return make_error(Errc::parse,
                      "invalid hex: odd number of digits (" + std::to_string(hex.size()) + ")");
  }
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int high = hex_value(hex[2 * i]);
    int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      std::size_t at = high < 0 ? 2 * i : 2 * i + 1;
      return make_error(Errc::parse,
                        "invalid hex: non-hex character at offset " + std::to_string(at));
    }
    out[i] = static_cast<std::uint8_t>((high << 4) | low);
  }
  return out;
}

Result<FileDigest> hash_file(const std::string& path, bool with_sha512) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return make_error(error == ENOENT ? Errc::not_found : Errc::io,
                      errno_message(path, "cannot open", error));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return make_error(Errc::io, errno_message(path, "cannot stat", errno));
  if (S_ISDIR(st.st_mode)) return make_error(Errc::io, path + ": is a directory");
  if (S_ISREG(st.st_mode)) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  // One buffer per call, reused for every chunk. 1 MiB keeps read(2) calls rare while
  // a chunk still fits in L2 for the second digest pass over it.
  constexpr std::size_t kBufferSize = std::size_t{1} << 20;
  auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kBufferSize);

  Hasher sha256(HashAlgorithm::sha256);
  Hasher sha512(HashAlgorithm::sha512);
  FileDigest result;
  for (;;) {
    ssize_t got = ::read(fd, buffer.get(), kBufferSize);
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io, errno_message(path, "read failed", errno));
    }
    if (got == 0) break;
    auto size = static_cast<std::size_t>(got);
    sha256.update(buffer.get(), size);
    if (with_sha512) sha512.update(buffer.get(), size);
    result.length += size;
  }
  result.sha256_hex = to_hex(sha256.finish());
  if (with_sha512) result.sha512_hex = to_hex(sha512.finish());
  return result;
}

}  // namespace pw::crypto
