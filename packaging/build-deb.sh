#!/usr/bin/env bash
# Builds packaging/out/recorder_<version>_<arch>.deb with dpkg-deb (no debhelper): the native AOT
# binary, the systemd unit, sysusers.d and tmpfiles.d entries, the conffiles /etc/recorder/*.yaml
# (from config/), the examples and docs, and the maintainer scripts in packaging/debian/.
#
#   packaging/build-deb.sh                      publish for this machine's architecture, then package
#   packaging/build-deb.sh --arch arm64         cross-publish for arm64 (needs an arm64 toolchain; see README)
#   packaging/build-deb.sh --binary PATH        package an already published binary (CI reuses its AOT publish)
#   packaging/build-deb.sh --version 0.1.0-2    override the version (default: <Version> in Directory.Build.props)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

arch=$(dpkg --print-architecture)
version=""
binary=""
out="$repo/packaging/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$arch" in
  amd64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  *) echo "build-deb.sh: unsupported architecture '$arch' (amd64, arm64)" >&2; exit 2 ;;
esac
if [ -z "$version" ]; then
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
fi
[ -n "$version" ] || { echo "build-deb.sh: no <Version> in Directory.Build.props" >&2; exit 1; }

if [ -z "$binary" ]; then
  publish_dir="$repo/artifacts/publish-$rid"
  rm -rf "$publish_dir"
  cross=()
  if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    # Cross-linking on Debian with the GNU cross toolchain (gcc-aarch64-linux-gnu,
    # binutils-aarch64-linux-gnu, libc6-dev-arm64-cross); clang is not needed. The ILCompiler passes
    # clang's --target= to the linker, which gcc refuses: a wrapper drops it.
    triple=aarch64-linux-gnu
    command -v "$triple-gcc" >/dev/null || { echo "build-deb.sh: --arch $arch needs gcc-$triple, binutils-$triple and libc6-dev-arm64-cross" >&2; exit 1; }
    wrapper="$repo/artifacts/cross/$triple-gcc"
    mkdir -p "$(dirname "$wrapper")"
    printf '#!/bin/sh\nfor a do shift; case "$a" in --target=*) ;; *) set -- "$@" "$a" ;; esac; done\nexec %s-gcc "$@"\n' "$triple" > "$wrapper"
    chmod +x "$wrapper"
    cross=(-p:CppCompilerAndLinker="$wrapper" -p:ObjCopyName="$triple-objcopy")
  fi
  echo "publishing recorder for $rid (native AOT)"
  dotnet publish src/Recorder/Recorder.csproj -c Release -r "$rid" -o "$publish_dir" -nologo -v q "${cross[@]}"
  binary="$publish_dir/recorder"
fi
[ -x "$binary" ] || { echo "build-deb.sh: no executable at $binary" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -d -m 755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" \
  "$root/usr/lib/tmpfiles.d" "$root/etc/recorder" "$root/usr/share/doc/recorder/examples"
install -m 755 "$binary" "$root/usr/bin/recorder"
install -m 644 recorder.service "$root/lib/systemd/system/recorder.service"
install -m 644 packaging/debian/recorder.sysusers "$root/usr/lib/sysusers.d/recorder.conf"
install -m 644 packaging/debian/recorder.tmpfiles "$root/usr/lib/tmpfiles.d/recorder.conf"
install -m 644 config/fleet.yaml "$root/etc/recorder/fleet.yaml"
install -m 644 config/device.yaml "$root/etc/recorder/device.yaml"
install -m 644 config/fleet.example.yaml config/device.example.yaml config/README.md "$root/usr/share/doc/recorder/examples/"
install -m 644 README.md "$root/usr/share/doc/recorder/README.md"
install -m 644 proto/control.md "$root/usr/share/doc/recorder/control.md"
install -m 644 packaging/debian/copyright "$root/usr/share/doc/recorder/copyright"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")/" \
  packaging/debian/changelog | gzip -9n > "$root/usr/share/doc/recorder/changelog.Debian.gz"
chmod 644 "$root/usr/share/doc/recorder/changelog.Debian.gz"
for script in postinst prerm postrm; do install -m 755 "packaging/debian/$script" "$root/DEBIAN/$script"; done
printf '/etc/recorder/fleet.yaml\n/etc/recorder/device.yaml\n' > "$root/DEBIAN/conffiles"

# procps: /bin/kill for `kill -HUP` (the unit's ExecReload= is `recorder reload`).
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: recorder
Version: $version
Architecture: $arch
Maintainer: Recorder <recorder@localhost>
Installed-Size: $installed_size
Depends: libc6 (>= 2.36), libssl3 | libssl3t64, ca-certificates, systemd, procps
Suggests: ffmpeg
Section: misc
Priority: optional
Description: on-device MCAP sensor recorder for robots and vehicles
 Producers write sensor topics into a Unix socket or FIFOs (MCAP, JSON
 lines, or raw H.264/H.265 from cameras); the recorder writes
 timestamp-aligned, chunked, indexed MCAP files with their schemas and device
 metadata, and a frame index beside every recording with video. One native
 binary, run by systemd as recorder.service (Type=notify, watchdog, reload on
 SIGHUP, hardened), is also the CLI: recorder help service.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/recorder_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
