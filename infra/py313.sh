#!/usr/bin/env bash
# The deployed Lambda runtime (python3.13) on a machine whose own Python is older (Debian bookworm:
# 3.11): a Debian trixie chroot, built from Debian's registry with debootstrap, holding python3.13,
# PostgreSQL 17 and redis-server, so `chalice package` (cp313 wheels, Runtime: python3.13) and the
# test suite run on the version AWS runs. Needs root (debootstrap, chroot, bind mounts).
#
#   infra/py313.sh build              # once: debootstrap into $PY313_ROOT (~1-3 min, ~750 MB)
#   infra/py313.sh run CMD [ARG...]   # CMD inside the chroot, in the repo (bind-mounted at /src),
#                                     # with the project installed in /opt/venv (python3.13)
#
# PY313_ROOT defaults to ~/.cache/frs-py313 (reused by later runs on the same machine; one run at a
# time per root: /src is a single mount point). Without root, use a Python 3.13 container instead
# (infra/README.md: `docker run ... python:3.13-slim`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# outside the repo: a checkout deleted with `rm -rf` never walks into the chroot's mounts
root="${PY313_ROOT:-${XDG_CACHE_HOME:-${HOME}/.cache}/frs-py313}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

build() {
  if [ -e "${root}/usr/bin/python3.13" ] && [ -e "${root}/opt/venv/pyvenv.cfg" ]; then
    echo "py313: ${root} exists"; return
  fi
  command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  # a partial root (an interrupted build) is started over; --one-file-system never crosses a mount
  [ -e "${root}" ] && rm -rf --one-file-system "${root}"
  mkdir -p "${root}"
  echo "py313: debootstrap trixie into ${root}"
  debootstrap --variant=minbase \
    --include=python3.13,python3.13-venv,ca-certificates,postgresql,redis-server \
    trixie "${root}" "${mirror}" >"${root}.log" 2>&1 || { tail -20 "${root}.log" >&2; exit 1; }
  chroot "${root}" python3.13 -m venv /opt/venv
}

mounts=()
cleanup() {
  local i
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}

mnt() {  # mnt <path inside root> <mount args...>
  local target="${root}$1"; shift
  mkdir -p "${target}"
  mount "$@" "${target}"
  mounts+=("${target}")
}

run() {
  [ -e "${root}/opt/venv/pyvenv.cfg" ] || build
  trap cleanup EXIT INT TERM
  # the host's CA bundle (it may hold a proxy CA the registries are reached through) and resolver
  cp /etc/ssl/certs/ca-certificates.crt "${root}/etc/ssl/certs/ca-certificates.crt"
  cp /etc/resolv.conf "${root}/etc/resolv.conf" 2>/dev/null || true
  [ -f /etc/pip.conf ] && cp /etc/pip.conf "${root}/etc/pip.conf"
  # debootstrap made /dev's nodes; PostgreSQL also needs /proc and a /dev/shm (POSIX shared memory)
  mnt /proc -t proc proc
  mnt /dev/shm -t tmpfs -o size=512m tmpfs
  mnt /src --bind "${repo}"
  # pip's cache from the host: the host's `pip install` just fetched most of the same pure-Python wheels
  [ -d "${HOME}/.cache/pip" ] && mnt /root/.cache/pip --bind "${HOME}/.cache/pip"
  local envs=(PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
              PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
              SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt CI="${CI:-}"
              AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-packaging}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-packaging}"
              AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}")
  # the project in the chroot's venv (editable, from /src) on first use
  chroot "${root}" /usr/bin/env -i "${envs[@]}" /bin/bash -c \
    'cd /src && { [ -x /opt/venv/bin/chalice ] || pip install -q -e ".[dev]"; } && exec "$@"' bash "$@"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
