#!/usr/bin/env bash
# Installs the system packages sslpipe's build, tests and demo need, when
# they are missing. Idempotent: does nothing when all are present. Uses
# apt-get on Debian/Ubuntu as root; elsewhere prints what to install.
#
#   tools/install-deps.sh            # build + test + demo packages
#   tools/install-deps.sh --build    # only what building needs
set -euo pipefail

# libturbojpeg0: libjpeg-turbo, which augment/ loads at run time to decode
# JPEGs bit-identically to PIL (without it: Go's image/jpeg).
# libgloo-dev: Gloo's headers, for the shim's c10d process group (train/dist).
build_pkgs=(g++ libtorch-dev libopenblas0-pthread libturbojpeg0 libgloo-dev)
# espeak-ng: speech for audio tests and the HuBERT/data2vec demo;
# fortunes: the text corpus; dataset-fashion-mnist: the image demo.
data_pkgs=(espeak-ng fortunes dataset-fashion-mnist)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build" ]]; then
  pkgs+=("${data_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: this is not Debian/Ubuntu; install libtorch (set LIBTORCH=/path), a C++ compiler, espeak-ng and the fortunes corpus by hand" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: missing packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
  $sudo apt-get update -q >&2
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
