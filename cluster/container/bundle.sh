#!/usr/bin/env bash
# A `spikeq` binary built on this machine, laid out as the files the image adds to its root
# filesystem, for the Containerfile's `spikeq` stage:
#
#   cluster/container/bundle.sh BIN DIR
#   podman build -f cluster/container/Containerfile --build-context spikeq=DIR -t spikeq:latest .
#
# DIR gets:
#   usr/local/bin/spikeq           the binary
#   usr/local/lib/spikeq/*.so      every library `ldd` resolves outside the system's library
#                                  directories: the Swift runtime of a toolchain in /opt/swift or
#                                  ~/.swiftpm (none for a binary built with --static-swift-stdlib)
#   etc/ld.so.conf.d/spikeq.conf   that directory, for the dynamic loader (the binary's RUNPATH
#                                  names the toolchain, which the image does not have)
# The C libraries (OpenBLAS, ZeroMQ, LZ4, SQLite) come from Debian packages in the image instead
# (RUNTIME_PACKAGES in the Containerfile), whose build runs `spikeq --version` to prove that none is
# missing. Build the binary on Debian 12 (or a system with an older glibc) for a Debian 12 image.
set -euo pipefail
(( $# == 2 )) || { echo "usage: $0 BIN DIR" >&2; exit 2; }
bin=$1
out=$2
[[ -x $bin ]] || { echo "bundle: $bin is not an executable" >&2; exit 1; }

resolved=$(ldd "$bin")
if grep -q "not found" <<<"$resolved"; then
    echo "bundle: libraries of $bin not found on this machine:" >&2
    grep "not found" <<<"$resolved" >&2
    exit 1
fi

if [[ -e $out && -n $(ls -A "$out") ]]; then echo "bundle: $out is not empty" >&2; exit 1; fi
mkdir -p "$out/usr/local/bin" "$out/usr/local/lib/spikeq" "$out/etc/ld.so.conf.d"
cp "$bin" "$out/usr/local/bin/spikeq"
# `name => /path (address)` lines; the loader and the vDSO have no `=>` path. The directory is the
# one ldd names, not the symlink's target (Debian's OpenBLAS is an alternative under openblas-pthread/).
while read -r path; do
    case $(dirname "$path") in
        /lib | /lib64 | /usr/lib | /usr/lib64 | /lib/*-linux-gnu | /usr/lib/*-linux-gnu) ;;
        *) cp -L "$path" "$out/usr/local/lib/spikeq/" ;;
    esac
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$resolved")
echo /usr/local/lib/spikeq > "$out/etc/ld.so.conf.d/spikeq.conf"
echo "bundle: $out ($(ls "$out/usr/local/lib/spikeq" | wc -l) libraries besides the binary)"
