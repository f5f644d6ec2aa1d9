package shim

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Libtorch describes one libtorch installation.
type Libtorch struct {
	Source      string   // "LIBTORCH", "python3" or "system"
	Root        string   // the folder given or found (for display)
	IncludeDirs []string // -I folders, in order
	LibDir      string   // folder holding libtorch.so
	Version     string   // e.g. "1.13.0" or "2.11.0"
	CUDA        bool     // libtorch_cuda.so is present
	CXX11ABI    bool     // built with _GLIBCXX_USE_CXX11_ABI=1
}

// ErrNotFound is returned by Locate when no libtorch is found.
var ErrNotFound = errors.New("shim: no libtorch found")

// Debian's multiarch system locations.
var (
	systemInclude = "/usr/include"
	systemLibDir  = "/usr/lib/x86_64-linux-gnu"
)

// Locate finds libtorch: the folder named by the LIBTORCH environment
// variable (with include/ and lib/), then the torch package of python3 if it
// ships headers and libraries, then Debian's system libtorch. python names
// the interpreter to ask ("" skips that step).
func Locate(python string) (*Libtorch, error) {
	if dir := os.Getenv("LIBTORCH"); dir != "" {
		lt, err := fromDir(dir, "LIBTORCH")
		if err != nil {
			return nil, fmt.Errorf("shim: LIBTORCH=%s: %w", dir, err)
		}
		return lt, nil
	}
	if python != "" {
		if dir := pythonTorchDir(python); dir != "" {
			if lt, err := fromDir(dir, "python3"); err == nil {
				return lt, nil
			}
		}
	}
	if lt, err := fromSystem(); err == nil {
		return lt, nil
	}
	return nil, ErrNotFound
}

// pythonTorchDir asks python for the folder of its torch package.
func pythonTorchDir(python string) string {
	if _, err := exec.LookPath(python); err != nil {
		return ""
	}
	cmd := exec.Command(python, "-c", "import os, torch; print(os.path.dirname(torch.__file__))")
	cmd.Stderr = nil
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// fromDir reads a libtorch folder laid out as a libtorch download or a
// PyTorch wheel's torch/ package: include/ and lib/.
func fromDir(dir, source string) (*Libtorch, error) {
	inc := filepath.Join(dir, "include")
	lib := filepath.Join(dir, "lib")
	if _, err := os.Stat(filepath.Join(inc, "torch", "csrc", "api", "include", "torch", "torch.h")); err != nil {
		return nil, fmt.Errorf("no torch headers under %s (want include/torch/csrc/api/include/torch/torch.h)", inc)
	}
	if _, err := os.Stat(filepath.Join(lib, "libtorch_cpu.so")); err != nil {
		return nil, fmt.Errorf("no libtorch_cpu.so under %s", lib)
	}
	lt := &Libtorch{
		Source:      source,
		Root:        dir,
		IncludeDirs: []string{inc, filepath.Join(inc, "torch", "csrc", "api", "include")},
		LibDir:      lib,
	}
	return lt, lt.complete()
}

func fromSystem() (*Libtorch, error) {
	api := filepath.Join(systemInclude, "torch", "csrc", "api", "include")
	if _, err := os.Stat(filepath.Join(api, "torch", "torch.h")); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(systemLibDir, "libtorch_cpu.so")); err != nil {
		return nil, err
	}
	lt := &Libtorch{
		Source:      "system",
		Root:        systemLibDir,
		IncludeDirs: []string{api},
		LibDir:      systemLibDir,
	}
	return lt, lt.complete()
}

var (
	versionRE      = regexp.MustCompile(`#define\s+TORCH_VERSION\s+\\?\s*"([^"]+)"`)
	versionPartsRE = regexp.MustCompile(`#define\s+TORCH_VERSION_(MAJOR|MINOR|PATCH)\s+(\d+)`)
)

// versionFiles are the headers, relative to an include folder, that may
// hold libtorch's version: torch/version.h (1.x, 2.x) and, from torch 2.10
// on, torch/headeronly/version.h (the API's version.h only includes it).
var versionFiles = []string{
	filepath.Join("torch", "version.h"),
	filepath.Join("torch", "csrc", "api", "include", "torch", "version.h"),
	filepath.Join("torch", "headeronly", "version.h"),
}

// parseTorchVersion reads libtorch's version from a version.h: the
// TORCH_VERSION string literal, else MAJOR.MINOR.PATCH from the number
// macros (a TORCH_VERSION built with TORCH_STRINGIFY has no literal).
func parseTorchVersion(b []byte) string {
	if m := versionRE.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	parts := map[string]string{}
	for _, m := range versionPartsRE.FindAllSubmatch(b, -1) {
		parts[string(m[1])] = string(m[2])
	}
	if parts["MAJOR"] == "" || parts["MINOR"] == "" || parts["PATCH"] == "" {
		return ""
	}
	return parts["MAJOR"] + "." + parts["MINOR"] + "." + parts["PATCH"]
}

// complete fills Version, CUDA and CXX11ABI from the files.
func (lt *Libtorch) complete() error {
	var tried []string
	for _, inc := range lt.IncludeDirs {
		for _, f := range versionFiles {
			p := filepath.Join(inc, f)
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			tried = append(tried, p)
			if v := parseTorchVersion(b); v != "" {
				lt.Version = v
				break
			}
		}
		if lt.Version != "" {
			break
		}
	}
	if lt.Version == "" {
		if len(tried) == 0 {
			return fmt.Errorf("no torch version.h under %v", lt.IncludeDirs)
		}
		return fmt.Errorf("cannot read the libtorch version from %s", strings.Join(tried, ", "))
	}
	_, err := os.Stat(filepath.Join(lt.LibDir, "libtorch_cuda.so"))
	lt.CUDA = err == nil
	abi, err := cxx11ABI(filepath.Join(lt.LibDir, "libc10.so"))
	if err != nil {
		return err
	}
	lt.CXX11ABI = abi
	return nil
}

// cxx11ABI reports whether a C++ library was built with the new libstdc++
// ABI, by looking for std::__cxx11 in its exported symbols.
func cxx11ABI(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return false, fmt.Errorf("read symbols of %s: %w", path, err)
	}
	for _, s := range syms {
		if strings.Contains(s.Name, "__cxx11") {
			return true, nil
		}
	}
	return false, nil
}

// Describe is a one-line human description.
func (lt *Libtorch) Describe() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "libtorch %s (%s, %s", lt.Version, lt.Source, lt.LibDir)
	if lt.CUDA {
		b.WriteString(", CUDA")
	} else {
		b.WriteString(", CPU only")
	}
	b.WriteString(")")
	return b.String()
}
