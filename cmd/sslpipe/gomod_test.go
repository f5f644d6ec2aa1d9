package main

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// go.mod marks as direct exactly the modules whose packages the module's
// packages (tests included) import, and every other requirement
// "// indirect" (what `go mod tidy` writes).
func TestGoModDirectRequirements(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Skip("no go command:", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	list := func(args ...string) []string {
		cmd := exec.Command("go", append([]string{"list", "-e"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // the libtorch files too
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	self := list("-m")[0]
	imports := map[string]bool{}
	for _, p := range list("-test", "-f", "{{join .Imports \" \"}}", "./...") {
		if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && !strings.HasPrefix(p, self+"/") && !strings.HasSuffix(p, ".test") {
			imports[p] = true
		}
	}
	direct := map[string]bool{}
	for _, m := range list(append([]string{"-f", "{{with .Module}}{{.Path}}{{end}}"}, slices.Sorted(maps.Keys(imports))...)...) {
		direct[m] = true
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]bool{}
	inBlock := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		indirect := strings.HasSuffix(line, "// indirect")
		required[f[0]] = true
		if direct[f[0]] == indirect {
			t.Errorf("go.mod: %s marked indirect=%v, but the module imports it directly=%v", f[0], indirect, direct[f[0]])
		}
	}
	for m := range direct {
		if !required[m] {
			t.Errorf("go.mod does not require %s, which the module imports", m)
		}
	}
}
