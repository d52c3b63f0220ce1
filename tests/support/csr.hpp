// A certificate signing request for `name` with a fresh key: what an agent sends when it
// enrolls (the CA and server tests).
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "common/crypto/x509.hpp"

namespace pw::test {

inline std::string csr_for(const std::string& name) {
  auto key = crypto::x509::generate_private_key_pem();
  REQUIRE(key.ok());
  auto csr = crypto::x509::make_csr(*key, {name, {}, {}, {}});
  REQUIRE(csr.ok());
  return *csr;
}

}  // namespace pw::test
