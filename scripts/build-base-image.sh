#!/usr/bin/env bash
# Build the local base image that function images start FROM.
#
# No container registry is reachable, so nothing can be pulled: the image is made from
# Debian bookworm's own packages (debootstrap --variant=minbase) and loaded with
# `docker import`. It carries what CVAT-style functions need to build offline-ish:
# Python 3 with pip, NumPy, OpenCV (Debian's, plus opencv-data for the Haar cascades under
# /usr/share/opencv4), Pillow and CA certificates.
#
# Its CMD and HEALTHCHECK are those of cvat-fn's function images (harness/nuclio/runners/image.py:
# START_COMMAND, HEALTHCHECK), so images built FROM it need no extra builder steps for them.
#
# Idempotent: exits at once when the image exists (--force rebuilds). Needs root.
#
#   scripts/build-base-image.sh [--force]
#
# Environment: CVAT_FN_BASE_IMAGE (tag), DEBIAN_MIRROR, PIP_CERT (a CA bundle pip in the
# image should trust; default: the host's /etc/ssl/certs/ca-certificates.crt),
# CVAT_FN_DEBOOTSTRAP_CACHE (where downloaded .debs are kept between
# runs; empty to disable).
set -euo pipefail

IMAGE="${CVAT_FN_BASE_IMAGE:-cvat-fn/python:3.11-bookworm}"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${CVAT_FN_DEBOOTSTRAP_CACHE-/var/cache/cvat-fn/debootstrap}"
PACKAGES="python3,python3-pip,python3-numpy,python3-opencv,opencv-data,python3-pil,ca-certificates"

log() { printf '[base-image %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) die "unknown argument $1 (expected --force)" ;;
esac

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "the Docker Engine is not reachable (is dockerd running?)"

if [[ $force == 0 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists; nothing to do (--force rebuilds)"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root (debootstrap and chroot): run it with sudo"

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/var/tmp}/cvat-fn-base.XXXXXX")"
cleanup() {
  # debootstrap may leave proc/sys mounted when it fails half-way.
  for m in proc sys dev/pts; do
    mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

cache_args=()
if [[ -n $CACHE ]]; then
  mkdir -p "$CACHE"
  cache_args=(--cache-dir="$CACHE")
fi

log "debootstrap $SUITE (minbase + ${PACKAGES//,/ }) from $MIRROR"
# debootstrap prints one line per package and phase; show phases and every 50th package.
progress() {
  local line phase
  local -A count=()
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$work/debootstrap.out"
    case "$line" in
      "I: Retrieving "*) phase=Downloading ;;
      "I: Extracting "*) phase=Extracting ;;
      "I: Unpacking "*) phase=Unpacking ;;
      "I: Configuring "*) phase=Configuring ;;
      "E: "*|"W: "*) log "$line"; continue ;;
      *) continue ;;
    esac
    count[$phase]=$(( ${count[$phase]:-0} + 1 ))
    if (( count[$phase] == 1 )); then log "$phase packages..."
    elif (( count[$phase] % 100 == 0 )); then log "$phase: ${count[$phase]} packages"
    fi
  done
  return 0
}
# Two stages, so dpkg can be told not to fsync every file it unpacks (a throw-away rootfs).
if ! debootstrap --foreign --variant=minbase --include="$PACKAGES" "${cache_args[@]}" \
    "$SUITE" "$work/rootfs" "$MIRROR" 2>&1 | progress; then
  tail -n 30 "$work/debootstrap.out" >&2
  die "debootstrap (download and unpack) failed"
fi
echo force-unsafe-io >"$work/rootfs/etc/dpkg/dpkg.cfg.d/cvat-fn-unsafe-io"
if ! chroot "$work/rootfs" /debootstrap/debootstrap --second-stage 2>&1 | progress; then
  tail -n 30 "$work/debootstrap.out" >&2
  [[ -f $work/rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$work/rootfs/debootstrap/debootstrap.log" >&2
  die "debootstrap (second stage: install and configure) failed"
fi
rm -f "$work/rootfs/etc/dpkg/dpkg.cfg.d/cvat-fn-unsafe-io"
grep -q '^I: Base system installed successfully' "$work/debootstrap.out" \
  || { tail -n 30 "$work/debootstrap.out" >&2; die "debootstrap did not finish"; }

log "trimming (apt caches, docs, man pages, locales)"
root="$work/rootfs"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
  "$root"/var/log/*.log "$root"/var/log/apt/*
# Behave like the python:3.x images Nuclio builds on: `pip install` in a build directive
# installs into the system Python instead of failing with PEP 668's externally-managed error.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
# pip in build directives trusts what pip on this host trusts (e.g. a TLS-intercepting
# proxy's CA in $PIP_CERT); the label lets cvat-fn skip copying the same CA per function.
ca_label=()
# Without $PIP_CERT, the host's own CA bundle: what the host trusts, pip in the image trusts.
if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
if [[ -n ${PIP_CERT:-} && -f ${PIP_CERT:-} ]]; then
  install -m 0644 "$PIP_CERT" "$root/etc/ssl/certs/cvat-fn-pip-ca.crt"
  printf '[global]\ncert = /etc/ssl/certs/cvat-fn-pip-ca.crt\n' >"$root/etc/pip.conf"
  ca_label=(--change "LABEL org.cvat-fn.pip-ca=$(sha256sum "$PIP_CERT" | cut -d' ' -f1)")
  log "pip in the image trusts \$PIP_CERT ($PIP_CERT)"
fi
python_version="$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
chroot "$root" python3 -c 'import cv2, numpy, PIL, pip' \
  || die "the image's Python cannot import cv2, numpy, PIL and pip"

log "docker import as $IMAGE ($(du -sh "$root" | cut -f1), Python $python_version)"
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'LABEL org.cvat-fn.managed=true' \
  --change "LABEL org.cvat-fn.base-image=debian-$SUITE-python$python_version" \
  "${ca_label[@]}" \
  --change 'CMD ["python3", "/opt/cvat-fn/start.py"]' \
  --change "HEALTHCHECK --interval=2s --timeout=3s --retries=1 CMD [\"python3\", \"-c\", \"import urllib.request as u; u.urlopen('http://127.0.0.1:8082/ready', timeout=2)\"]" \
  --message "cvat-fn base image: Debian $SUITE minbase + $PACKAGES" \
  - "$IMAGE" >/dev/null

log "done: $IMAGE ($(docker image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-19))"
