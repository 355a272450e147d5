#!/usr/bin/env bash
# Regenerates the committed CRI code from proto/api.proto:
#   Sources/CRIProto/        protobuf-c C code (protoc-c)
#   Sources/CRIAPI/*.generated.swift (messages, conversions, services, crictl JSON decoding), Tests/CRIAPITests/Arbitrary.generated.swift (generate.py)
# usage: proto/generate.sh           rewrite the committed files
#        proto/generate.sh --check   regenerate into a temporary tree and fail if anything differs
# Needs Debian's protobuf-compiler, protobuf-c-compiler and python3-protobuf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

out=$root
[ "${1:-}" = "--check" ] && out=$work/tree

protoc --proto_path="$here" --descriptor_set_out="$work/api.pb" api.proto
mkdir -p "$work/c" "$out/Sources/CRIProto/include"
protoc --proto_path="$here" --c_out="$work/c" api.proto
cp "$work/c/api.pb-c.c" "$out/Sources/CRIProto/api.pb-c.c"
# GNU C predefines `linux` and `unix` as 1, and several CRI fields carry those names.
# Deprecated proto fields are still converted (wire completeness): no deprecation attributes.
sed 's|^#define PROTOBUF_C_api_2eproto__INCLUDED$|&\n\n#undef linux\n#undef unix\n#ifndef PROTOBUF_C__NO_DEPRECATED\n#define PROTOBUF_C__NO_DEPRECATED 1\n#endif|' \
    "$work/c/api.pb-c.h" > "$out/Sources/CRIProto/include/api.pb-c.h"
/usr/bin/python3 "$here/generate.py" "$work/api.pb" "$out"

if [ "${1:-}" = "--check" ]; then
    status=0
    for f in Sources/CRIProto/api.pb-c.c Sources/CRIProto/include/api.pb-c.h \
             Sources/CRIAPI/Messages.generated.swift Sources/CRIAPI/Conversions.generated.swift \
             Sources/CRIAPI/Services.generated.swift Sources/CRIAPI/JSON.generated.swift Tests/CRIAPITests/Arbitrary.generated.swift; do
        if ! diff -q "$root/$f" "$out/$f" >/dev/null 2>&1; then
            echo "generated file differs from proto/api.proto: $f (run proto/generate.sh)" >&2
            status=1
        fi
    done
    exit $status
fi
