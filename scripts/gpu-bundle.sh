#!/usr/bin/env bash
# make gpu-bundle: dist/gpu-bundle/, everything a Linux GPU machine with a
# CUDA PyTorch and a C++ compiler (but no Go) needs to run sslpipe there:
#   sslpipe         the pure-Go front end (data commands)
#   sslpipe-torch   the libtorch commands, linked to libsslpipe_tch.so by name
#   shimbuild       builds libsslpipe_tch.so against that machine's libtorch
#   gotch-libtch/   gotch's C++ sources the shim is compiled from
#   benchmarks/     the PyTorch reference scripts for side-by-side timings
#   run-on-gpu.sh   builds the shim (cached) and runs an sslpipe command
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/gpu-bundle
rm -rf "$out" && mkdir -p "$out/gotch-libtch" "$out/benchmarks"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/sslpipe" ./cmd/sslpipe
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/shimbuild" ./tools/shimbuild
# Both binaries load libturbojpeg.so.0 at run time where it is installed
# and decode with Go's image/jpeg where it is not.
go build -trimpath -ldflags "-s -w" -o "$out/sslpipe-torch" ./cmd/sslpipe
# The replaced copy has no C++; take the sources from the module cache.
src=$(go env GOMODCACHE)/github.com/sugarme/gotch@$(go list -m -f '{{.Version}}' github.com/sugarme/gotch 2>/dev/null || echo v0.9.1)
[[ -f "$src/libtch/torch_api.cpp" ]] || src=$(go env GOMODCACHE)/github.com/sugarme/gotch@v0.9.1
cp "$src"/libtch/{torch_api.cpp,torch_api.h,torch_api_generated.cpp.h,torch_api_generated.h,stb_image.h,stb_image_write.h,stb_image_resize.h} "$out/gotch-libtch/"
chmod u+w "$out"/gotch-libtch/*
for f in benchmarks/*/*.py; do [[ -e "$f" ]] && mkdir -p "$out/$(dirname "$f")" && cp "$f" "$out/$f"; done
cp scripts/run-on-gpu.sh "$out/run-on-gpu.sh"
chmod +x "$out/run-on-gpu.sh"
size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out, ${size} MiB"
if (( size >= 60 )); then echo "gpu-bundle: over the 60 MiB budget" >&2; exit 1; fi
