#!/bin/sh
# Checks demo.tape with `vhs validate` (parses every command; needs no ttyd).
# VHS is built from its module in a throwaway directory: `go install …@version`
# may not resolve through the module proxy here, `go get` + `go build` does.
# VHS_VERSION overrides the version (default v0.10.0; @latest does not resolve through the proxy here).
set -eu
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
	cd "$work"
	go mod init vhs-build >/dev/null 2>&1
	go get "github.com/charmbracelet/vhs@${VHS_VERSION:-v0.10.0}" >/dev/null
	go build -o "$work/vhs" github.com/charmbracelet/vhs
)
"$work/vhs" validate "$repo/demo.tape"
echo "vhs-validate: demo.tape is valid ($("$work/vhs" --version 2>/dev/null | head -n 1))"
