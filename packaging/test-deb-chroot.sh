#!/usr/bin/env bash
# Installs, upgrades (keeping a locally edited conffile) and purges the recorder or the
# recorder-depot .deb (told apart by its Package field) in a Debian 12 minbase chroot made with debootstrap. Needs root. The chroot's base (with the package's
# dependencies) is cached as artifacts/chroot/bookworm-minbase-*.tar.gz ($CHROOT_CACHE_DIR replaces
# artifacts/chroot), so a second run needs no network: about 15 s instead of 2-3 min. Prints one "ok"/"FAILED" line per check and exits 1 on any failure.
#
#   packaging/test-deb-chroot.sh packaging/out/recorder_0.1.0_amd64.deb
#   packaging/test-deb-chroot.sh packaging/out/recorder-depot_0.1.0_amd64.deb
set -uo pipefail
cd "$(dirname "$0")/.."
deb=$(readlink -f "${1:?usage: test-deb-chroot.sh PACKAGE.deb}")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The package's dependencies, preinstalled so that dpkg -i needs no network once the base is cached.
include=systemd,procps,ca-certificates,libssl3,libsqlite3-0
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
# The cached base was archived from a mktemp -d (0700): its / would keep non-root users (the
# services' own users) out of everything.
chmod 755 "$root"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

failures=0
check() { # description, command...
  local what=$1; shift
  if "$@" >"$work/check.log" 2>&1; then echo "ok: $what"; else echo "FAILED: $what"; sed 's/^/    /' "$work/check.log" | tail -20; failures=$((failures + 1)); fi
}

pkg=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
# Per package: the conffile the upgrade test edits, the local edit (sed) and the line it leaves.
case "$pkg" in
  recorder) conffile=/etc/recorder/fleet.yaml; edit='s/^fleet: default$/fleet: edited-on-this-vehicle/'; edited='fleet: edited-on-this-vehicle' ;;
  recorder-depot) conffile=/etc/recorder-depot/depot.yaml; edit='s/^listen: 127.0.0.1:1080$/listen: 127.0.0.1:1081/'; edited='listen: 127.0.0.1:1081' ;;
  *) echo "FAILED: no checks for package '$pkg'"; exit 1 ;;
esac

# Version 2: the same package with a changed upstream conffile and a higher version, so that
# dpkg has a conffile conflict to resolve on the upgrade.
v2dir="$work/v2"
dpkg-deb -R "$deb" "$v2dir"
sed -i "s/^Version: .*/Version: ${version}+upgradetest1/" "$v2dir/DEBIAN/control"
printf '\n# changed upstream in %s+upgradetest1\n' "$version" >> "$v2dir$conffile"
(cd "$v2dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zxz --build "$v2dir" "$root/tmp/${pkg}_v2.deb" >/dev/null
cp "$deb" "$root/tmp/${pkg}_v1.deb"

echo "--- install $pkg $version ($arch)"
check "dpkg -i installs the package" in_root dpkg -i "/tmp/${pkg}_v1.deb"
check "the system user comes from sysusers.d" sh -c "chroot '$root' getent passwd $pkg | grep -q ':/var/lib/$pkg:/usr/sbin/nologin$'"
check "the unit is enabled (deb-systemd-helper)" test -L "$root/etc/systemd/system/multi-user.target.wants/$pkg.service"
check "the conffiles are registered" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' $pkg | grep -q '$conffile'"
check "systemd-analyze verify accepts the installed unit" sh -c "chroot '$root' systemd-analyze verify /lib/systemd/system/$pkg.service 2>&1 | { ! grep -v -e 'ConditionPathExists' -e '^$' ; }"

# The packaged depot as its unit runs it: as its user, with the packaged configuration. Prints the
# log; succeeds when it listened and then exited 0 on SIGTERM.
depot_runs_as_its_user() {
  in_root sh -c 'setpriv --reuid=recorder-depot --regid=recorder-depot --init-groups /usr/bin/recorder-depot run --config /etc/recorder-depot/depot.yaml --listen 127.0.0.1:0 > /tmp/depot.log 2>&1 & echo $! > /tmp/depot.pid; wait $!; echo "exit $?" >> /tmp/depot.log' &
  local runner=$! i
  # A real process starting: poll its log (bounded), then stop it as systemd would.
  for i in $(seq 1 200); do grep -q 'listening on' "$root/tmp/depot.log" 2>/dev/null && break; sleep 0.1; done
  kill -TERM "$(cat "$root/tmp/depot.pid")"
  wait "$runner"
  cat "$root/tmp/depot.log"
  grep -q 'listening on http://127.0.0.1:' "$root/tmp/depot.log" && grep -qx 'exit 0' "$root/tmp/depot.log"
}

if [ "$pkg" = recorder ]; then
  check "recorder --version runs in the chroot" sh -c "chroot '$root' /usr/bin/recorder version | grep -qx 'recorder ${version%%[-+~]*}'"
  check "/data/recordings is created for the user (tmpfiles.d)" sh -c "[ \"\$(chroot '$root' stat -c '%U:%G %a' /data/recordings)\" = 'recorder:recorder 750' ]"
  check "the conffile device.yaml is registered too" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' recorder | grep -q '/etc/recorder/device.yaml'"
  check "the packaged configuration passes config check (the unit's ExecStartPre)" \
    in_root /usr/bin/recorder config check --config /etc/recorder/fleet.yaml --device /etc/recorder/device.yaml --quiet
  check "the manual is there: recorder help service" sh -c "chroot '$root' /usr/bin/recorder help service | grep -q 'systemctl reload recorder'"
else
  check "/var/lib/recorder-depot, recordings/ and state/ are created for the user (tmpfiles.d)" sh -c \
    "[ \"\$(chroot '$root' stat -c '%U:%G %a' /var/lib/recorder-depot /var/lib/recorder-depot/recordings /var/lib/recorder-depot/state | tr '\n' ' ')\" = 'recorder-depot:recorder-depot 750 recorder-depot:recorder-depot 750 recorder-depot:recorder-depot 700 ' ]"
  check "the packaged configuration passes config check (the unit's ExecStartPre)" \
    sh -c "chroot '$root' /usr/bin/recorder-depot config check --config /etc/recorder-depot/depot.yaml | grep -qx '/etc/recorder-depot/depot.yaml: ok'"
  check "token add as the service user prints a token and keeps its hash, owned by the user" sh -c \
    "chroot '$root' runuser -u recorder-depot -- /usr/bin/recorder-depot token add rt-0001 --config /etc/recorder-depot/depot.yaml 2>/dev/null | grep -q '^rdt_' && [ \"\$(chroot '$root' stat -c '%U %a' /var/lib/recorder-depot/state/tokens)\" = 'recorder-depot 600' ]"
  check "the packaged depot runs as its user, listens and stops cleanly on SIGTERM" depot_runs_as_its_user
fi

echo "--- edit $conffile locally, upgrade to ${version}+upgradetest1"
sed -i "$edit" "$root$conffile"
check "the local edit is in place" grep -qx "$edited" "$root$conffile"
check "dpkg -i upgrades non-interactively (--force-confdef --force-confold)" \
  in_root dpkg -i --force-confdef --force-confold "/tmp/${pkg}_v2.deb"
check "the new version is installed" sh -c "[ \"\$(chroot '$root' dpkg-query -W -f='\${Version}' $pkg)\" = '${version}+upgradetest1' ]"
check "the local edit is kept" grep -qx "$edited" "$root$conffile"
check "the new upstream file is beside it as $(basename "$conffile").dpkg-dist" grep -q "changed upstream in ${version}+upgradetest1" "$root$conffile.dpkg-dist"
if [ "$pkg" = recorder ]; then
  check "the edited configuration still passes config check" in_root /usr/bin/recorder config check --quiet
  data=/data/recordings/rt-1
else
  check "the edited configuration still passes config check" in_root /usr/bin/recorder-depot config check --config "$conffile"
  check "the device token survived the upgrade" grep -q '^rt-0001 ' "$root/var/lib/recorder-depot/state/tokens"
  data=/var/lib/recorder-depot/recordings/rt-1/2026-11-27
fi

echo "--- purge"
mkdir -p "$root$data" && echo recording > "$root$data/keep.mcap"
check "dpkg --purge removes the package" in_root dpkg --purge "$pkg"
check "the binary and the unit are gone" sh -c "[ ! -e '$root/usr/bin/$pkg' ] && [ ! -e '$root/lib/systemd/system/$pkg.service' ]"
check "/etc/$pkg is gone, conffiles and .dpkg-dist included" test ! -e "$root/etc/$pkg"
check "the enable symlink is gone" test ! -e "$root/etc/systemd/system/multi-user.target.wants/$pkg.service"
check "recordings are never deleted" test -f "$root$data/keep.mcap"

echo "chroot test: $(( $(date +%s) - start )) s, $failures failed"
[ "$failures" -eq 0 ]
