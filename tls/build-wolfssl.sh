#!/usr/bin/env bash
# Builds wolfSSL from Debian's source package with its assembly (AES-NI, AVX, the SP math
# assembly for P-256 and RSA) into a cache outside the work tree, and prints the install
# prefix on its last line. Debian's binary libwolfssl is built without assembly and is
# many times slower at AES-GCM and ECDSA (perf/RESULTS.md). The machine's apt setup is left
# alone: the source list and the lists directory are private to the cache.
#
#   tls/build-wolfssl.sh            build if missing; print the prefix
#   RINGWAY_CACHE=DIR               where the cache lives (default ~/.cache/ringway)
#
# Exits non-zero if the build fails; the caller (CMake) then falls back to libwolfssl-dev.
set -euo pipefail

# The features ringway uses, and the assembly. Changing them changes the cache key.
FLAGS=(
  --enable-static --disable-shared --with-pic
  --disable-examples --disable-crypttests --disable-benchmark
  --enable-aesni --enable-intelasm --enable-sp --enable-sp-asm
  --enable-tls13 --enable-tlsv12 --disable-oldtls
  --enable-aesgcm --enable-chacha --enable-poly1305 --enable-curve25519
  --enable-sni --enable-alpn --enable-session-ticket --enable-supportedcurves
  --enable-ocsp --enable-ocspstapling --enable-secure-renegotiation-info
  --enable-opensslextra --enable-opensslall --enable-sys-ca-certs --enable-bigcache
  # Self-signed certificates for listeners that name none (tls/self_signed.h).
  --enable-certgen --enable-certext
)
# Compiler flags: no -march, so the library runs on any x86-64 machine; the assembly picks
# AES-NI/AVX2 paths at run time. A function per section, so that ringway's link drops what it
# does not call (--gc-sections: about 400 KB of code and data).
CFLAGS_EXTRA="-O2 -fno-omit-frame-pointer -ffunction-sections -fdata-sections -DWOLFSSL_ALT_NAMES"

cache="${RINGWAY_CACHE:-${HOME:-/tmp}/.cache/ringway}"
src_list="$cache/apt/sources.list"
lists="$cache/apt/lists"
apt_opts=(-o "Dir::Etc::SourceList=$src_list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$lists" -o "Dir::Cache=$cache/apt/cache"
          -o "APT::Sandbox::User=root" -q)

mkdir -p "$lists/partial" "$cache/apt/cache/archives/partial"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat >"$src_list" <<LIST
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian-security $codename-security main
deb-src http://deb.debian.org/debian $codename-updates main
LIST

# The version Debian ships now; the cache key is that version and a hash of the flags.
version=$(apt-cache policy libwolfssl-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
key_src="$version ${FLAGS[*]} $CFLAGS_EXTRA $(cc --version | head -1)"
key=$(printf '%s' "$key_src" | sha256sum | cut -c1-12)
prefix="$cache/wolfssl-${version//[^A-Za-z0-9.+-]/_}-$key"
if [ -f "$prefix/.ok" ]; then
  echo "$prefix"
  exit 0
fi

echo "building wolfSSL $version from Debian's source package with assembly into $prefix" >&2
work="$cache/build-$key"
rm -rf "$work" "$prefix"
mkdir -p "$work"
(
  cd "$work"
  apt-get "${apt_opts[@]}" update >&2
  if [ -n "$version" ]; then
    apt-get "${apt_opts[@]}" source --download-only "wolfssl=$version" >&2
  else
    apt-get "${apt_opts[@]}" source --download-only wolfssl >&2
  fi
  dpkg-source -x ./*.dsc src >&2
  cd src
  autoreconf -fi >&2
  ./configure --prefix="$prefix" "${FLAGS[@]}" CFLAGS="$CFLAGS_EXTRA" >&2
  make -j"$(nproc)" >&2
  make install >&2
)
printf '%s\n' "$key_src" >"$prefix/.ok"
rm -rf "$work"
echo "$prefix"
