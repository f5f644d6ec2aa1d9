//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTorchCommandListComplete checks that torchCommands and
// torchBenchTargets name exactly the commands registered by files that
// build only with cgo, so the pure-Go sslpipe can hand each one over.
func TestTorchCommandListComplete(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	cmdRE := regexp.MustCompile(`register\(&command\{\s*Name:\s*"([^"]+)"`)
	benchRE := regexp.MustCompile(`registerBench\(&benchTarget\{\s*Name:\s*"([^"]+)"`)
	cmds, benches := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "//go:build cgo") {
			continue
		}
		for _, m := range cmdRE.FindAllStringSubmatch(string(b), -1) {
			cmds[m[1]] = true
		}
		for _, m := range benchRE.FindAllStringSubmatch(string(b), -1) {
			benches[m[1]] = true
		}
	}
	for n := range cmds {
		if _, ok := torchCommands[n]; !ok {
			t.Errorf("command %q builds only with cgo but is missing from torchCommands", n)
		}
	}
	for n := range torchCommands {
		if !cmds[n] || commands[n] == nil {
			t.Errorf("torchCommands lists %q, which no cgo file registers", n)
		}
	}
	for n := range benches {
		if _, ok := torchBenchTargets[n]; !ok {
			t.Errorf("bench target %q builds only with cgo but is missing from torchBenchTargets", n)
		}
	}
	for n := range torchBenchTargets {
		if !benches[n] || benchTargets[n] == nil {
			t.Errorf("torchBenchTargets lists %q, which no cgo file registers", n)
		}
	}
}
