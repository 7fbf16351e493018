#!/usr/bin/env bash
# Builds the Debian package of ringway from a built binary, with dpkg-deb (no debhelper):
#
#   packaging/build-deb.sh [--binary PATH] [--out DIR]
#
#   --binary PATH   the ringway to package (default build/release/ringway); it is not rebuilt
#   --out DIR       where the .deb goes (default build/deb); the staging tree is DIR/root
#
# Prints the path of the .deb on its last line. The version is `ringway --version`'s; the
# architecture dpkg's. Depends comes from dpkg-shlibdeps on the binary, plus adduser.
# Maintainer: $DEBFULLNAME <$DEBEMAIL> when both are set. SOURCE_DATE_EPOCH, when set, dates the
# changelog and the manual page (else the last commit's date, else now).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
binary="$src/build/release/ringway"
out="$src/build/deb"

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --binary=*) binary="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "build-deb.sh: $*" >&2; exit 1; }

[ -x "$binary" ] || die "no executable ringway at $binary (run make release, or pass --binary)"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
for tool in dpkg-deb dpkg-shlibdeps gzip; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian package: dpkg-dev)"
done
# Debian's Python, as the tests use; any python3 will do.
python3=/usr/bin/python3
[ -x "$python3" ] || python3=$(command -v python3) || die "python3 is missing"

version=$("$binary" --version | awk '$1 == "ringway" {print $2; exit}')
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] \
  || die "'$binary --version' gave no usable version ('$version')"
arch=$(dpkg --print-architecture)
maintainer="ringway developers <ringway@example.org>"
if [ -n "${DEBFULLNAME:-}" ] && [ -n "${DEBEMAIL:-}" ]; then
  maintainer="$DEBFULLNAME <$DEBEMAIL>"
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
date_rfc2822=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" -R)

mkdir -p "$out"
out=$(cd "$out" && pwd)
root="$out/root"
work="$out/work"
deb="$out/ringway_${version}_${arch}.deb"
rm -rf "$root" "$work" "$deb"
mkdir -p "$root/DEBIAN" "$work"
umask 022

# --- files -----------------------------------------------------------------------------------

# The binary as built: symbols kept (no strip), for perf and for readable stack traces.
install -D -m 0755 "$binary" "$root/usr/sbin/ringway"

# The example configuration, its header rewritten for an installed system, and the admin API's
# state file put in the service's StateDirectory (/etc/ringway is not writable by the service).
install -d -m 0755 "$root/etc/ringway"
"$python3" - "$src/config/ringway.yaml" "$root/etc/ringway/ringway.yaml" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read().splitlines()
i = 0
while i < len(text) and text[i].startswith("#"):
    i += 1
body = text[i:]
header = """\
# ringway configuration (ringway(8), section CONFIGURATION, lists every key; so does
# /usr/share/doc/ringway/configuration.md.gz).
#
# This example has one listener on 127.0.0.1:8080 in front of two backends on 127.0.0.1:3001
# and :3002: until something serves there, requests get 503. Put your own listeners, servers
# and upstreams here, check the file, then reload the running service:
#   ringway --validate --config /etc/ringway/ringway.yaml && systemctl reload ringway
# The admin API, metrics and dashboard: http://127.0.0.1:9901/ (global.admin).""".splitlines()
state = "state_file: /var/lib/ringway/state.json"
note = "# the admin API's changes (the service's StateDirectory)"
for j, line in enumerate(body):
    if line.rstrip() == "global:":
        indent = "  "
        for nxt in body[j + 1:]:
            if nxt.strip() and not nxt.lstrip().startswith("#"):
                m = re.match(r"(\s+)", nxt)
                indent = m.group(1) if m else indent
                break
        body[j + 1:j + 1] = [indent + note, indent + state]
        break
else:
    body = ["global:", "  " + note, "  " + state] + body
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(header + [""] + body).rstrip() + "\n")
PY
chmod 0644 "$root/etc/ringway/ringway.yaml"
"$binary" --validate --config "$root/etc/ringway/ringway.yaml" >/dev/null \
  || die "the packaged configuration does not validate"

# The systemd unit as the source tree has it, its install note made true for the package and
# its manual page named.
install -d -m 0755 "$root/lib/systemd/system"
has_doc=0
grep -q '^Documentation=' "$src/config/ringway.service" && has_doc=1
awk -v has_doc="$has_doc" '
  /^# .*Install as .*ringway\.service/ {
    print "# Installed by the ringway package, which enables and starts it. Local changes:"
    print "#   systemctl edit ringway"
    skip = 1; next
  }
  skip && /^#[[:space:]]+systemctl daemon-reload/ { skip = 0; next }
  /^Description=/ && !has_doc { print; print "Documentation=man:ringway(8)"; next }
  { skip = 0; print }
' "$src/config/ringway.service" >"$root/lib/systemd/system/ringway.service"
chmod 0644 "$root/lib/systemd/system/ringway.service"
unit="$root/lib/systemd/system/ringway.service"
grep -q '^ExecStart=/usr/sbin/ringway ' "$unit" \
  || die "the unit's ExecStart is not /usr/sbin/ringway"
grep -q '^User=ringway$' "$unit" || die "the unit does not run as User=ringway"
grep -q '^AmbientCapabilities=.*CAP_NET_BIND_SERVICE' "$unit" \
  || die "the unit lacks AmbientCapabilities=CAP_NET_BIND_SERVICE"

# logrotate, likewise.
install -d -m 0755 "$root/etc/logrotate.d"
sed -e 's|^# Install as /etc/logrotate.d/ringway\. |# Installed by the ringway package. |' \
  "$src/config/ringway.logrotate" >"$root/etc/logrotate.d/ringway"
chmod 0644 "$root/etc/logrotate.d/ringway"

# The manual page, from --help and the configuration reference; it must render cleanly.
install -d -m 0755 "$root/usr/share/man/man8"
"$python3" "$here/make-man.py" --binary "$binary" --markdown "$src/docs/configuration.md" \
  --version "$version" --date "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" \
  -o "$work/ringway.8"
if command -v man >/dev/null; then
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$work/ringway.8" 2>&1 >/dev/null \
    || echo "man failed")
  [ -z "$warnings" ] || die "the manual page renders with warnings:
$warnings"
else
  echo "build-deb.sh: man (man-db) is missing: the manual page was not checked" >&2
fi
gzip -9n <"$work/ringway.8" >"$root/usr/share/man/man8/ringway.8.gz"
chmod 0644 "$root/usr/share/man/man8/ringway.8.gz"

# Documentation: copyright, changelog, and the Markdown references the manual page points to.
doc="$root/usr/share/doc/ringway"
install -d -m 0755 "$doc"
for md in "$src"/docs/*.md; do
  name=$(basename "$md")
  gzip -9n <"$md" >"$doc/$name.gz"
done
# Libraries linked statically: their lines in the copyright file's Comment, and their source
# packages for Built-Using.
static_comment=""
static_sources=()
wolfssl_static=0
wolfssl_version=""
link="$(dirname "$binary")/CMakeFiles/ringway.dir/link.txt"
if ! ldd "$binary" 2>/dev/null | grep -q 'libwolfssl\.so' && grep -qa 'wolfSSL' "$binary"; then
  # wolfSSL built from Debian's source package and linked statically: name its version.
  wolfssl_static=1
  if [ -f "$link" ]; then
    wolfssl_version=$(grep -o 'wolfssl-[^/ ]*-[0-9a-f]\{12\}/lib/libwolfssl\.a' "$link" \
      | head -1 | sed -E 's|^wolfssl-(.*)-[0-9a-f]{12}/lib/libwolfssl\.a$|\1|')
  fi
  if [ -z "$wolfssl_version" ]; then
    wolfssl_version=$(dpkg-query -W -f='${source:Version}' libwolfssl-dev 2>/dev/null || true)
  fi
  static_comment+=$'\n .\n The binary links wolfSSL statically, built from Debian\'s wolfssl'
  static_comment+=$'\n source package'
  if [ -n "$wolfssl_version" ]; then
    static_comment+=" $wolfssl_version"
    static_sources+=("wolfssl (= $wolfssl_version)")
  fi
  static_comment+=$': Copyright 2006-2021 wolfSSL Inc.,'
  static_comment+=$'\n under the GPL, version 2 or later (GPL-2+ below).'
fi
# A Release build links Abseil from its static archives (CMakeLists.txt): name that too.
if [ -f "$link" ] && grep -q 'libabsl_[a-z0-9_]*\.a' "$link"; then
  absl_version=$(dpkg-query -W -f='${source:Version}' libabsl-dev 2>/dev/null || true)
  static_comment+=$'\n .\n The binary links Abseil statically, from Debian\'s abseil'
  static_comment+=$'\n source package'
  if [ -n "$absl_version" ]; then
    static_comment+=" $absl_version"
    static_sources+=("abseil (= $absl_version)")
  fi
  static_comment+=$': Copyright The Abseil Authors,'
  static_comment+=$'\n under the Apache License, version 2.0'
  static_comment+=$'\n (/usr/share/common-licenses/Apache-2.0).'
fi
# A Release build links the C++ runtime statically (CMakeLists.txt): name GCC's.
if [ -f "$link" ] && grep -q -- '-static-libstdc++' "$link"; then
  gcc_name="" gcc_version=""
  runtime=$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)
  runtime_package=$(dpkg -S "$(readlink -f "$runtime")" 2>/dev/null | head -1 | cut -d: -f1)
  if [ -n "$runtime_package" ]; then
    gcc_name=$(dpkg-query -W -f='${source:Package}' "$runtime_package" 2>/dev/null || true)
    gcc_version=$(dpkg-query -W -f='${source:Version}' "$runtime_package" 2>/dev/null || true)
  fi
  static_comment+=$'\n .\n The binary links GCC\'s C++ runtime (libstdc++ and libgcc) statically'
  if [ -n "$gcc_name" ] && [ -n "$gcc_version" ]; then
    static_comment+=$',\n from Debian\'s '"$gcc_name source package $gcc_version"
    static_sources+=("$gcc_name (= $gcc_version)")
  fi
  static_comment+=$':\n Copyright Free Software Foundation, Inc., under the GPL, version 3'
  static_comment+=$'\n (/usr/share/common-licenses/GPL-3), with the GCC Runtime Library'
  static_comment+=$'\n Exception, version 3.1.'
fi
built_using=""
for source in "${static_sources[@]}"; do built_using+="${built_using:+, }$source"; done
[ -z "$built_using" ] || built_using="Built-Using: $built_using"$'\n'
"$python3" - "$here/copyright.in" "$doc/copyright" "$static_comment" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read().replace("@WOLFSSL_COMMENT@", sys.argv[3])
open(sys.argv[2], "w", encoding="utf-8").write(text)
PY
if [ "$wolfssl_static" = 1 ]; then
  cat "$here/copyright-wolfssl.in" >>"$doc/copyright"
fi
{
  echo "ringway ($version) unstable; urgency=medium"
  echo
  echo "  * ringway $version."
  echo
  echo " -- $maintainer  $date_rfc2822"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc"/*

# What lintian would say and why it is so (packaging/lintian-overrides).
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/ringway"

# --- control ---------------------------------------------------------------------------------

# dpkg-shlibdeps reads debian/control of the directory it runs in.
mkdir -p "$work/debian"
printf 'Source: ringway\nMaintainer: %s\n\nPackage: ringway\nArchitecture: any\n' \
  "$maintainer" >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e"$root/usr/sbin/ringway" 2>"$work/shlibdeps.err") \
  || { cat "$work/shlibdeps.err" >&2; die "dpkg-shlibdeps failed"; }
depends=$(printf '%s\n' "$shlibs" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
depends="$depends, adduser"

installed_size=$(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%s\n' \
  | awk '{ kib += int(($1 + 1023) / 1024) } END { print kib + 0 }')

VERSION="$version" ARCH="$arch" MAINTAINER="$maintainer" INSTALLED_SIZE="$installed_size" \
DEPENDS="$depends" BUILT_USING="$built_using" \
  "$python3" - "$here/control.in" "$root/DEBIAN/control" <<'PY'
import os, sys
text = open(sys.argv[1], encoding="utf-8").read()
for key in ("VERSION", "ARCH", "MAINTAINER", "INSTALLED_SIZE", "DEPENDS", "BUILT_USING"):
    text = text.replace("@%s@" % key, os.environ[key])
open(sys.argv[2], "w", encoding="utf-8").write(text)
PY

printf '/etc/ringway/ringway.yaml\n/etc/logrotate.d/ringway\n' >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
  | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

# Directories 0755 and files as set above, whatever the umask of the checkout was; every
# file dated SOURCE_DATE_EPOCH, so that the same tree gives the same package.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
