package shim

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseTorchVersion(t *testing.T) {
	cases := []struct{ name, header, want string }{
		{"debian 1.13 literal", "#define TORCH_VERSION_MAJOR 1\n#define TORCH_VERSION_MINOR 13\n#define TORCH_VERSION_PATCH 0\n#define TORCH_VERSION \\\n  \"1.13.0\"\n", "1.13.0"},
		{"2.9 literal with ABI tag", "#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 9\n#define TORCH_VERSION_PATCH 0\n#define TORCH_VERSION_ABI_TAG 0\n#define TORCH_VERSION \\\n  \"2.9.0\"\n", "2.9.0"},
		{"stringified", "#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 11\n#define TORCH_VERSION_PATCH 0\n#define TORCH_VERSION TORCH_STRINGIFY(TORCH_VERSION_MAJOR) \".\" TORCH_STRINGIFY(TORCH_VERSION_MINOR)\n", "2.11.0"},
		{"include only", "#pragma once\n#include <torch/headeronly/version.h>\n", ""},
		{"missing patch", "#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 11\n", ""},
	}
	for _, c := range cases {
		if got := parseTorchVersion([]byte(c.header)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// A wheel whose API version.h only includes torch/headeronly/version.h
// (torch 2.10 and later) still yields its version.
func TestCompleteFollowsHeaderOnlyVersion(t *testing.T) {
	root := t.TempDir()
	inc := filepath.Join(root, "include")
	write := func(rel, s string) {
		p := filepath.Join(inc, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("torch/csrc/api/include/torch/version.h", "#pragma once\n#include <torch/headeronly/version.h>\n")
	write("torch/headeronly/version.h", "#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 11\n#define TORCH_VERSION_PATCH 0\n")
	lt := &Libtorch{IncludeDirs: []string{inc, filepath.Join(inc, "torch", "csrc", "api", "include")}, LibDir: filepath.Join(root, "lib")}
	err := lt.complete()
	if lt.Version != "2.11.0" {
		t.Fatalf("version %q (err %v), want 2.11.0", lt.Version, err)
	}
	// No libc10.so in this fake tree: the ABI check must name it.
	if err == nil {
		t.Fatal("want an error for the missing libc10.so")
	}

	empty := &Libtorch{IncludeDirs: []string{t.TempDir()}}
	if err := empty.complete(); err == nil {
		t.Fatal("want an error without any version.h")
	}
}
