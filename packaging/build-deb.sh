#!/usr/bin/env bash
# Builds packaging/out/recorder_<version>_<arch>.deb and recorder-depot_<version>_<arch>.deb with
# dpkg-deb (no debhelper): per package the native AOT binary, its systemd unit, sysusers.d and
# tmpfiles.d entries, its conffiles (from config/), the examples and docs, and the maintainer
# scripts in packaging/debian/ (shared, @PACKAGE@ filled in). Prints each .deb's path, recorder first.
#
#   packaging/build-deb.sh                      publish both for this machine's architecture, then package
#   packaging/build-deb.sh --arch arm64         cross-publish for arm64 (needs an arm64 toolchain; see README)
#   packaging/build-deb.sh --binary PATH        package an already published recorder (CI reuses its AOT publish)
#   packaging/build-deb.sh --depot-binary PATH  package an already published recorder-depot
#   packaging/build-deb.sh --only recorder      build one package (recorder or recorder-depot)
#   packaging/build-deb.sh --version 0.1.0-2    override the version (default: <Version> in Directory.Build.props)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

arch=$(dpkg --print-architecture)
version=""
binary=""
depot_binary=""
only=""
out="$repo/packaging/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --depot-binary) depot_binary=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$only" in
  ""|recorder|recorder-depot) ;;
  *) echo "build-deb.sh: --only takes recorder or recorder-depot, got '$only'" >&2; exit 2 ;;
esac
case "$arch" in
  amd64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  *) echo "build-deb.sh: unsupported architecture '$arch' (amd64, arm64)" >&2; exit 2 ;;
esac
if [ -z "$version" ]; then
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
fi
[ -n "$version" ] || { echo "build-deb.sh: no <Version> in Directory.Build.props" >&2; exit 1; }


# Publishes PROJECT for $rid with native AOT into artifacts/publish-$rid/NAME; prints the binary's path.
publish() { # project, binary name
  local publish_dir="$repo/artifacts/publish-$rid/$2" cross=()
  rm -rf "$publish_dir"
  if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    # Cross-linking on Debian with the GNU cross toolchain (gcc-aarch64-linux-gnu,
    # binutils-aarch64-linux-gnu, libc6-dev-arm64-cross); clang is not needed. The ILCompiler passes
    # clang's --target= to the linker, which gcc refuses: a wrapper drops it.
    local triple=aarch64-linux-gnu
    command -v "$triple-gcc" >/dev/null || { echo "build-deb.sh: --arch $arch needs gcc-$triple, binutils-$triple and libc6-dev-arm64-cross" >&2; exit 1; }
    local wrapper="$repo/artifacts/cross/$triple-gcc"
    mkdir -p "$(dirname "$wrapper")"
    printf '#!/bin/sh\nfor a do shift; case "$a" in --target=*) ;; *) set -- "$@" "$a" ;; esac; done\nexec %s-gcc "$@"\n' "$triple" > "$wrapper"
    chmod +x "$wrapper"
    cross=(-p:CppCompilerAndLinker="$wrapper" -p:ObjCopyName="$triple-objcopy")
  fi
  echo "publishing $2 for $rid (native AOT)" >&2
  dotnet publish "$1" -c Release -r "$rid" -o "$publish_dir" -nologo -v q "${cross[@]}" >&2
  echo "$publish_dir/$2"
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The parts every package has: binary, unit, sysusers.d, tmpfiles.d, docs, maintainer scripts,
# conffiles, control, md5sums. Package-specific files are staged by the caller into $root first.
# Args: package, binary, Depends, Suggests, description (first line = synopsis), conffile paths...
build_package() {
  local pkg=$1 bin=$2 depends=$3 suggests=$4 description=$5
  shift 5
  [ -x "$bin" ] || { echo "build-deb.sh: no executable at $bin" >&2; exit 1; }
  local root="$stage/$pkg" doc="$stage/$pkg/usr/share/doc/$pkg"
  install -d -m 755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$doc"
  install -m 755 "$bin" "$root/usr/bin/$pkg"
  install -m 644 "$pkg.service" "$root/lib/systemd/system/$pkg.service"
  install -m 644 "packaging/debian/$pkg.sysusers" "$root/usr/lib/sysusers.d/$pkg.conf"
  install -m 644 "packaging/debian/$pkg.tmpfiles" "$root/usr/lib/tmpfiles.d/$pkg.conf"
  install -m 644 README.md "$doc/README.md"
  install -m 644 packaging/debian/copyright "$doc/copyright"
  sed -e "s/@PACKAGE@/$pkg/" -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")/" \
    packaging/debian/changelog | gzip -9n > "$doc/changelog.Debian.gz"
  chmod 644 "$doc/changelog.Debian.gz"
  for script in postinst prerm postrm; do
    sed "s/@PACKAGE@/$pkg/g" "packaging/debian/$script" > "$root/DEBIAN/$script"
    chmod 755 "$root/DEBIAN/$script"
  done
  printf '%s\n' "$@" > "$root/DEBIAN/conffiles"
  local installed_size
  installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Recorder <recorder@localhost>\nInstalled-Size: %s\n' "$pkg" "$version" "$arch" "$installed_size"
    printf 'Depends: %s\n' "$depends"
    [ -n "$suggests" ] && printf 'Suggests: %s\n' "$suggests"
    printf 'Section: misc\nPriority: optional\nDescription: %s\n' "$description"
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
  mkdir -p "$out"
  local deb="$out/${pkg}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb"
}

# Both binaries link only libc and libm and dlopen OpenSSL (SHA-256, TLS), the depot also
# Debian's SQLite (its catalog; Catalog/SqliteNativeLibrary.cs); systemd for
# systemd-sysusers/systemd-tmpfiles/deb-systemd-helper.
if [ -z "$only" ] || [ "$only" = recorder ]; then
  [ -n "$binary" ] || binary=$(publish src/Recorder/Recorder.csproj recorder)
  root="$stage/recorder"
  install -d -m 755 "$root/etc/recorder" "$root/usr/share/doc/recorder/examples"
  install -m 644 config/fleet.yaml "$root/etc/recorder/fleet.yaml"
  install -m 644 config/device.yaml "$root/etc/recorder/device.yaml"
  install -m 644 config/fleet.example.yaml config/device.example.yaml config/README.md "$root/usr/share/doc/recorder/examples/"
  install -m 644 proto/control.md "$root/usr/share/doc/recorder/control.md"
  # procps: /bin/kill for `kill -HUP` (the unit's ExecReload= is `recorder reload`).
  build_package recorder "$binary" "libc6 (>= 2.36), libssl3 | libssl3t64, ca-certificates, systemd, procps" "ffmpeg" \
    "on-device MCAP sensor recorder for robots and vehicles
 Producers write sensor topics into a Unix socket or FIFOs (MCAP, JSON
 lines, or raw H.264/H.265 from cameras); the recorder writes
 timestamp-aligned, chunked, indexed MCAP files with their schemas and device
 metadata, and a frame index beside every recording with video. One native
 binary, run by systemd as recorder.service (Type=notify, watchdog, reload on
 SIGHUP, hardened), is also the CLI: recorder help service." \
    /etc/recorder/fleet.yaml /etc/recorder/device.yaml
fi

if [ -z "$only" ] || [ "$only" = recorder-depot ]; then
  [ -n "$depot_binary" ] || depot_binary=$(publish src/Recorder.Depot/Recorder.Depot.csproj recorder-depot)
  root="$stage/recorder-depot"
  install -d -m 755 "$root/etc/recorder-depot" "$root/usr/share/doc/recorder-depot/examples"
  install -m 644 config/depot.yaml "$root/etc/recorder-depot/depot.yaml"
  install -m 644 config/depot.example.yaml "$root/usr/share/doc/recorder-depot/examples/"
  install -m 644 proto/offload_depot.md "$root/usr/share/doc/recorder-depot/offload_depot.md"
  build_package recorder-depot "$depot_binary" "libc6 (>= 2.36), libssl3 | libssl3t64, libsqlite3-0, ca-certificates, systemd" "" \
    "depot that receives, verifies and keeps a fleet's recordings
 A tus 1.0 server (native binary on Kestrel) that the recorder's offload
 uploads to: each file's SHA-256 is checked against the device's declaration
 before it becomes visible in storage, devices are authenticated by token or
 certificate and write only under their own device id, and recordings land
 in the vehicle's layout. Run by systemd as recorder-depot.service
 (Type=notify, hardened); /metrics and /healthz for monitoring." \
    /etc/recorder-depot/depot.yaml
fi
