#!/usr/bin/env bash
# Installs, upgrades (keeping a locally edited conffile) and purges the recorder .deb in a Debian 12
# minbase chroot made with debootstrap. Needs root. The chroot's base (with the package's
# dependencies) is cached as artifacts/chroot/bookworm-minbase-*.tar.gz ($CHROOT_CACHE_DIR replaces
# artifacts/chroot), so a second run needs no network: about 15 s instead of 2-3 min. Prints one "ok"/"FAILED" line per check and exits 1 on any failure.
#
#   packaging/test-deb-chroot.sh packaging/out/recorder_0.1.0_amd64.deb
set -uo pipefail
cd "$(dirname "$0")/.."
deb=$(readlink -f "${1:?usage: test-deb-chroot.sh RECORDER.deb}")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The package's dependencies, preinstalled so that dpkg -i needs no network once the base is cached.
include=systemd,procps,ca-certificates,libssl3
cache=${CHROOT_CACHE_DIR:-artifacts/chroot}/bookworm-minbase-$(echo "$include" | md5sum | cut -c1-8).tar.gz
start=$(date +%s)

if [ ! -s "$cache" ]; then
  echo "creating the chroot base with debootstrap (cached in $cache)"
  mkdir -p "$(dirname "$cache")"
  base=$(mktemp -d)
  if ! debootstrap --variant=minbase --include="$include" bookworm "$base" "$mirror" > "$base.log" 2>&1; then
    tail -20 "$base.log"; rm -rf "$base" "$base.log"; echo "FAILED: debootstrap"; exit 1
  fi
  rm -f "$base.log"
  rm -rf "$base/var/cache/apt/archives/"*.deb
  tar -C "$base" -czf "$cache.tmp" . && mv "$cache.tmp" "$cache"
  rm -rf "$base"
fi

work=$(mktemp -d)
root="$work/root"
cleanup() {
  umount "$root/proc" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$root"
tar -C "$root" -xzf "$cache"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

failures=0
check() { # description, command...
  local what=$1; shift
  if "$@" >"$work/check.log" 2>&1; then echo "ok: $what"; else echo "FAILED: $what"; sed 's/^/    /' "$work/check.log" | tail -20; failures=$((failures + 1)); fi
}

# Version 2: the same package with a changed upstream fleet.yaml and a higher version, so that
# dpkg has a conffile conflict to resolve on the upgrade.
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
v2dir="$work/v2"
dpkg-deb -R "$deb" "$v2dir"
sed -i "s/^Version: .*/Version: ${version}+upgradetest1/" "$v2dir/DEBIAN/control"
printf '\n# changed upstream in %s+upgradetest1\n' "$version" >> "$v2dir/etc/recorder/fleet.yaml"
(cd "$v2dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zxz --build "$v2dir" "$root/tmp/recorder_v2.deb" >/dev/null
cp "$deb" "$root/tmp/recorder_v1.deb"

echo "--- install $version ($arch)"
check "dpkg -i installs the package" in_root dpkg -i /tmp/recorder_v1.deb
check "recorder --version runs in the chroot" sh -c "chroot '$root' /usr/bin/recorder version | grep -qx 'recorder ${version%%[-+~]*}'"
check "the system user comes from sysusers.d" sh -c "chroot '$root' getent passwd recorder | grep -q ':/var/lib/recorder:/usr/sbin/nologin$'"
check "/data/recordings is created for the user (tmpfiles.d)" sh -c "[ \"\$(chroot '$root' stat -c '%U:%G %a' /data/recordings)\" = 'recorder:recorder 750' ]"
check "the unit is enabled (deb-systemd-helper)" test -L "$root/etc/systemd/system/multi-user.target.wants/recorder.service"
check "the conffiles are registered" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' recorder | grep -q '/etc/recorder/fleet.yaml' && chroot '$root' dpkg-query -W -f='\${Conffiles}' recorder | grep -q '/etc/recorder/device.yaml'"
check "the packaged configuration passes config check (the unit's ExecStartPre)" \
  in_root /usr/bin/recorder config check --config /etc/recorder/fleet.yaml --device /etc/recorder/device.yaml --quiet
check "systemd-analyze verify accepts the installed unit" sh -c "chroot '$root' systemd-analyze verify /lib/systemd/system/recorder.service 2>&1 | { ! grep -v -e 'ConditionPathExists' -e '^$' ; }"
check "the manual is there: recorder help service" sh -c "chroot '$root' /usr/bin/recorder help service | grep -q 'systemctl reload recorder'"

echo "--- edit /etc/recorder/fleet.yaml locally, upgrade to ${version}+upgradetest1"
sed -i 's/^fleet: default$/fleet: edited-on-this-vehicle/' "$root/etc/recorder/fleet.yaml"
check "the local edit is in place" grep -qx 'fleet: edited-on-this-vehicle' "$root/etc/recorder/fleet.yaml"
check "dpkg -i upgrades non-interactively (--force-confdef --force-confold)" \
  in_root dpkg -i --force-confdef --force-confold /tmp/recorder_v2.deb
check "the new version is installed" sh -c "[ \"\$(chroot '$root' dpkg-query -W -f='\${Version}' recorder)\" = '${version}+upgradetest1' ]"
check "the local edit is kept" grep -qx 'fleet: edited-on-this-vehicle' "$root/etc/recorder/fleet.yaml"
check "the new upstream file is beside it as fleet.yaml.dpkg-dist" grep -q "changed upstream in ${version}+upgradetest1" "$root/etc/recorder/fleet.yaml.dpkg-dist"
check "the edited configuration still passes config check" in_root /usr/bin/recorder config check --quiet

echo "--- purge"
mkdir -p "$root/data/recordings/rt-1" && echo recording > "$root/data/recordings/rt-1/keep.mcap"
check "dpkg --purge removes the package" in_root dpkg --purge recorder
check "the binary and the unit are gone" sh -c "[ ! -e '$root/usr/bin/recorder' ] && [ ! -e '$root/lib/systemd/system/recorder.service' ]"
check "/etc/recorder is gone, conffiles and .dpkg-dist included" test ! -e "$root/etc/recorder"
check "the enable symlink is gone" test ! -e "$root/etc/systemd/system/multi-user.target.wants/recorder.service"
check "recordings are never deleted" test -f "$root/data/recordings/rt-1/keep.mcap"

echo "chroot test: $(( $(date +%s) - start )) s, $failures failed"
[ "$failures" -eq 0 ]
