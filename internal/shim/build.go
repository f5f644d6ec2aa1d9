package shim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure Build.
type Options struct {
	GotchSrc     string    // gotch's libtch folder (torch_api.cpp, torch_api.h, ...)
	GotchVersion string    // e.g. "v0.9.1"; part of the cache key
	CacheRoot    string    // e.g. $XDG_CACHE_HOME/sslpipe/shim
	Jobs         int       // parallel compiler processes; 0 means runtime.NumCPU()
	Chunks       int       // pieces the generated wrappers are split into; 0 means 2 x Jobs (at least 4)
	CXX          string    // C++ compiler; "" means $CXX or g++
	OptLevel     string    // e.g. "-O1"; "" means -O1
	Force        bool      // rebuild even when cached
	Log          io.Writer // progress; nil discards
}

// Info is written next to the library as info.json and read back by
// `sslpipe doctor`.
type Info struct {
	LibtorchVersion string   `json:"libtorch_version"`
	LibtorchPath    string   `json:"libtorch_path"`
	LibtorchSource  string   `json:"libtorch_source"`
	CUDA            bool     `json:"cuda"`
	CXX11ABI        bool     `json:"cxx11_abi"`
	GotchVersion    string   `json:"gotch_version"`
	BuilderVersion  string   `json:"builder_version"`
	Compiler        string   `json:"compiler"`
	Chunks          int      `json:"chunks"`
	Jobs            int      `json:"jobs"`
	BuildSeconds    float64  `json:"build_seconds"`
	StubbedOps      []string `json:"stubbed_ops"`
	// DistFeatures are the distributed features compiled in (see
	// distCpp): "c10d", "gloo", "nccl".
	DistFeatures []string `json:"dist_features"`
	// UnavailableExtras are sslpipe's own C++ functions that did not
	// compile against this libtorch (silent stubs: they report "not
	// available").
	UnavailableExtras []string `json:"unavailable_extras"`
}

// InfoFile is the name of the JSON file beside the library.
const InfoFile = "info.json"

// Result is a built (or cached) shim library.
type Result struct {
	Dir    string // folder holding LibName and InfoFile
	Info   Info
	Cached bool
}

// LibPath is the full path of the shared library.
func (r *Result) LibPath() string { return filepath.Join(r.Dir, LibName) }

func (o *Options) defaults() {
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Chunks <= 0 {
		o.Chunks = max(4, 2*o.Jobs)
	}
	if o.CXX == "" {
		o.CXX = os.Getenv("CXX")
	}
	if o.CXX == "" {
		o.CXX = "g++"
	}
	if o.OptLevel == "" {
		o.OptLevel = "-O1"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

func compilerVersion(cxx string) (string, error) {
	out, err := exec.Command(cxx, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("shim: C++ compiler %q not usable: %w (install g++)", cxx, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// CacheKey names the cache folder for one libtorch, gotch and builder (and
// sslpipe's own C++ functions: a change to them rebuilds the library).
func CacheKey(lt *Libtorch, gotchVersion, compiler string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%v\n%v\n%s\n%s\n%s\n", lt.Version, lt.LibDir, lt.CXX11ABI, lt.CUDA, gotchVersion, BuilderVersion, compiler)
	h.Write([]byte(extrasSource()))
	// The distributed features found (installing libgloo-dev later rebuilds).
	d := detectDist(lt)
	fmt.Fprintf(h, "\n%v\n%v\n", d.features, d.includes)
	return fmt.Sprintf("libtorch-%s-gotch-%s-%s", sanitize(lt.Version), sanitize(gotchVersion), hex.EncodeToString(h.Sum(nil))[:12])
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// ReadInfo reads the info.json of a built shim folder.
func ReadInfo(dir string) (*Info, error) {
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return nil, err
	}
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("shim: %s: %w", filepath.Join(dir, InfoFile), err)
	}
	return &in, nil
}

// Build compiles the shim library for lt, or returns the cached one.
func Build(ctx context.Context, lt *Libtorch, opt Options) (*Result, error) {
	opt.defaults()
	compiler, err := compilerVersion(opt.CXX)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(opt.CacheRoot, CacheKey(lt, opt.GotchVersion, compiler))
	if !opt.Force {
		if in, err := ReadInfo(final); err == nil {
			if _, err := os.Stat(filepath.Join(final, LibName)); err == nil {
				return &Result{Dir: final, Info: *in, Cached: true}, nil
			}
		}
	}
	start := time.Now()
	if err := os.MkdirAll(opt.CacheRoot, 0o755); err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	work, err := os.MkdirTemp(opt.CacheRoot, ".build-")
	if err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	defer os.RemoveAll(work)

	b := &builder{opt: opt, lt: lt, work: work}
	if err := b.writeSources(); err != nil {
		return nil, err
	}
	fmt.Fprintf(opt.Log, "shim: compiling gotch %s C API against %s: %d chunks, %d jobs, %s %s\n",
		opt.GotchVersion, lt.Describe(), len(b.units)-2, opt.Jobs, opt.CXX, opt.OptLevel)
	if err := b.compileAll(ctx); err != nil {
		return nil, err
	}
	if err := b.link(ctx); err != nil {
		return nil, err
	}
	sort.Strings(b.stubbed)
	sort.Strings(b.silent)
	info := Info{
		LibtorchVersion:   lt.Version,
		LibtorchPath:      lt.LibDir,
		LibtorchSource:    lt.Source,
		CUDA:              lt.CUDA,
		CXX11ABI:          lt.CXX11ABI,
		GotchVersion:      opt.GotchVersion,
		BuilderVersion:    BuilderVersion,
		Compiler:          compiler,
		Chunks:            len(b.units) - 2,
		Jobs:              opt.Jobs,
		BuildSeconds:      time.Since(start).Seconds(),
		StubbedOps:        b.stubbed,
		DistFeatures:      append([]string{}, b.extras.features...),
		UnavailableExtras: append([]string{}, b.silent...),
	}
	if info.StubbedOps == nil {
		info.StubbedOps = []string{}
	}
	out := filepath.Join(work, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(work, LibName), filepath.Join(out, LibName)); err != nil {
		return nil, err
	}
	js, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(out, InfoFile), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	stubList := strings.Join(b.stubbed, "\n")
	if stubList != "" {
		stubList += "\n"
	}
	if err := os.WriteFile(filepath.Join(out, "stubbed.txt"), []byte(stubList), 0o644); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(final) // a stale or forced rebuild
	if err := os.Rename(out, final); err != nil {
		return nil, fmt.Errorf("shim: install %s: %w", final, err)
	}
	return &Result{Dir: final, Info: info}, nil
}

// unit is one translation unit: a file of top-level functions that may get
// stubbed when they fail to compile.
type unit struct {
	name   string // file name inside work
	header string // text before the functions
	lines  []string
	funcs  []cppFunc
	stub   map[int]bool // indexes into funcs
	stubOK bool         // whether failing functions may be stubbed
	silent bool         // stubs return zero values without recording an error
	// features are -D macros (optional parts of the unit), dropped from
	// the last when the unit fails to compile in a way no function
	// accounts for (a header that does not compile with this libtorch).
	features []string
	includes []string // extra -I folders for the features
}

type builder struct {
	opt     Options
	lt      *Libtorch
	work    string
	units   []*unit // units[0] is the core torch_api.cpp
	extras  *unit
	mu      sync.Mutex
	stubbed []string
	silent  []string // silently stubbed extras
}

func (b *builder) writeSources() error {
	src := b.opt.GotchSrc
	read := func(name string) (string, error) {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("shim: gotch sources: %w", err)
		}
		return string(data), nil
	}
	// Headers: torch_last_err becomes one definition shared by all units.
	h, err := read("torch_api.h")
	if err != nil {
		return err
	}
	const tlsDef = "thread_local char *torch_last_err = nullptr;"
	if !strings.Contains(h, tlsDef) {
		return fmt.Errorf("shim: torch_api.h of gotch %s has no %q; this builder does not know this gotch version", b.opt.GotchVersion, tlsDef)
	}
	h = strings.Replace(h, tlsDef, "extern thread_local char *torch_last_err;", 1)
	if err := os.WriteFile(filepath.Join(b.work, "torch_api.h"), []byte(h), 0o644); err != nil {
		return err
	}
	for _, name := range []string{"torch_api_generated.h", "stb_image.h", "stb_image_write.h", "stb_image_resize.h"} {
		data, err := read(name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.work, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	// Core: torch_api.cpp without the generated include, plus sslpipe's
	// own introspection functions. Its functions are not stubbed: a
	// failure there is an error.
	core, err := read("torch_api.cpp")
	if err != nil {
		return err
	}
	const genInclude = `#include "torch_api_generated.cpp.h"`
	if !strings.Contains(core, genInclude) {
		return fmt.Errorf("shim: torch_api.cpp has no %s", genInclude)
	}
	core = strings.Replace(core, genInclude, "", 1)
	core = tlsDef + "\n" + core
	b.units = append(b.units, &unit{name: "core.cpp", lines: strings.Split(core, "\n"), stub: map[int]bool{}})
	// sslpipe's introspection functions: stubbed silently (zero result, no
	// error) where a libtorch lacks an API they use.
	d := detectDist(b.lt)
	ex := &unit{name: "extras.cpp", lines: strings.Split(extrasSource(), "\n"), stub: map[int]bool{}, stubOK: true, silent: true,
		features: d.features, includes: d.includes}
	ex.funcs = parseFuncs(ex.lines)
	b.units = append(b.units, ex)
	b.extras = ex

	gen, err := read("torch_api_generated.cpp.h")
	if err != nil {
		return err
	}
	lines := strings.Split(gen, "\n")
	funcs := parseFuncs(lines)
	if len(funcs) < 100 {
		return fmt.Errorf("shim: found only %d functions in torch_api_generated.cpp.h", len(funcs))
	}
	n := b.opt.Chunks
	per := (len(funcs) + n - 1) / n
	for c := 0; c*per < len(funcs); c++ {
		part := funcs[c*per : min(len(funcs), (c+1)*per)]
		u := &unit{
			name:   fmt.Sprintf("gen_%03d.cpp", c),
			header: "#include \"torch_api.h\"\nusing namespace std;\n",
			stub:   map[int]bool{},
			stubOK: true,
		}
		u.lines = append(u.lines, strings.Split(strings.TrimSuffix(u.header, "\n"), "\n")...)
		for _, f := range part {
			u.lines = append(u.lines, lines[f.Start:f.End+1]...)
			u.lines = append(u.lines, "")
		}
		u.funcs = parseFuncs(u.lines)
		if len(u.funcs) != len(part) {
			return fmt.Errorf("shim: chunk %s: reparsed %d functions, want %d", u.name, len(u.funcs), len(part))
		}
		b.units = append(b.units, u)
	}
	return nil
}

// text renders a unit with its stubbed functions replaced.
func (u *unit) text(version string) string {
	var sb strings.Builder
	next := 0
	for i, f := range u.funcs {
		if !u.stub[i] {
			continue
		}
		sb.WriteString(strings.Join(u.lines[next:f.Start], "\n"))
		sb.WriteString("\n")
		body := stubBody(f, version)
		if u.silent {
			body = silentStubBody(f)
		}
		sb.WriteString(body)
		// Keep line numbers stable so later error lines map back.
		for k := strings.Count(body, "\n"); k < f.End-f.Start; k++ {
			sb.WriteString("\n")
		}
		sb.WriteString("\n")
		next = f.End + 1
	}
	sb.WriteString(strings.Join(u.lines[next:], "\n"))
	return sb.String()
}

func (b *builder) cxxFlags() []string {
	abi := "0"
	if b.lt.CXX11ABI {
		abi = "1"
	}
	flags := []string{"-std=c++17", "-fPIC", b.opt.OptLevel, "-w", "-D_GLIBCXX_USE_CXX11_ABI=" + abi, "-I" + b.work}
	for _, inc := range b.lt.IncludeDirs {
		flags = append(flags, "-I"+inc)
	}
	return flags
}

func (b *builder) compileAll(ctx context.Context) error {
	sem := make(chan struct{}, b.opt.Jobs)
	errs := make([]error, len(b.units))
	var wg sync.WaitGroup
	// Longest first: the core unit.
	for i, u := range b.units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = b.compile(ctx, u)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var errLineRE = regexp.MustCompile(`(?m)(gen_\d{3}\.cpp|core\.cpp|extras\.cpp):(\d+):(\d+:)? (error|required from here|note)`)

// compile compiles one unit, stubbing the functions that fail, until it
// compiles or a failure cannot be attributed to a stubbable function.
func (b *builder) compile(ctx context.Context, u *unit) error {
	src := filepath.Join(b.work, u.name)
	obj := strings.TrimSuffix(src, ".cpp") + ".o"
	for attempt := 0; ; attempt++ {
		if err := os.WriteFile(src, []byte(u.text(b.lt.Version)), 0o644); err != nil {
			return err
		}
		args := b.cxxFlags()
		for _, f := range u.features {
			args = append(args, "-D"+distMacro[f])
		}
		if len(u.features) > 0 {
			for _, inc := range u.includes {
				args = append(args, "-I"+inc)
			}
		}
		args = append(args, "-c", src, "-o", obj)
		cmd := exec.CommandContext(ctx, b.opt.CXX, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		err := cmd.Run()
		if err == nil {
			fmt.Fprintf(b.opt.Log, "shim: compiled %s in %.1fs\n", u.name, time.Since(t0).Seconds())
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failing := map[int]bool{}
		unattributed := false
		for _, m := range errLineRE.FindAllStringSubmatch(stderr.String(), -1) {
			if m[1] != u.name {
				continue
			}
			line, _ := strconv.Atoi(m[2])
			idx := funcAtLine(u.funcs, line-1)
			switch {
			case idx < 0 && m[4] == "error":
				unattributed = true
			case idx >= 0 && !u.stub[idx]:
				failing[idx] = true
			}
		}
		if (unattributed || len(failing) == 0) && len(u.features) > 0 {
			// A feature's headers do not compile here: build without it.
			k := failingFeature(u.features, stderr.String())
			drop := u.features[k]
			u.features = append(u.features[:k:k], u.features[k+1:]...)
			u.stub = map[int]bool{}
			b.mu.Lock()
			b.silent = nil // only the extras unit stubs silently
			b.mu.Unlock()
			attempt = -1
			fmt.Fprintf(b.opt.Log, "shim: %s: %s headers do not compile against libtorch %s; building without %s:\n%s\n",
				u.name, drop, b.lt.Version, drop, tail(stderr.String(), 1500))
			continue
		}
		if !u.stubOK || unattributed || len(failing) == 0 || attempt >= 8 {
			return fmt.Errorf("shim: %s does not compile against libtorch %s (%s):\n%s", u.name, b.lt.Version, b.lt.LibDir, tail(stderr.String(), 4000))
		}
		b.mu.Lock()
		for idx := range failing {
			u.stub[idx] = true
			if u.silent {
				b.silent = append(b.silent, u.funcs[idx].Name)
				fmt.Fprintf(b.opt.Log, "shim: %s unavailable with libtorch %s (reports nothing)\n", u.funcs[idx].Name, b.lt.Version)
				continue
			}
			b.stubbed = append(b.stubbed, u.funcs[idx].Name)
			fmt.Fprintf(b.opt.Log, "shim: stubbed %s (does not compile against libtorch %s)\n", u.funcs[idx].Name, b.lt.Version)
		}
		b.mu.Unlock()
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

func (b *builder) link(ctx context.Context) error {
	args := []string{"-shared", "-o", filepath.Join(b.work, LibName), "-Wl,-soname," + LibName}
	for _, u := range b.units {
		args = append(args, filepath.Join(b.work, strings.TrimSuffix(u.name, ".cpp")+".o"))
	}
	libs := []string{"torch", "torch_cpu", "c10"}
	for _, l := range []string{"torch_cuda", "c10_cuda"} {
		if _, err := os.Stat(filepath.Join(b.lt.LibDir, "lib"+l+".so")); err == nil {
			libs = append(libs, l)
		}
	}
	args = append(args, "-L"+b.lt.LibDir, "-Wl,-rpath,"+b.lt.LibDir, "-Wl,--no-as-needed")
	for _, l := range libs {
		args = append(args, "-l"+l)
	}
	args = append(args, "-Wl,--as-needed", "-ldl", "-lpthread")
	cmd := exec.CommandContext(ctx, b.opt.CXX, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("shim: link %s: %v\n%s", LibName, err, tail(stderr.String(), 4000))
	}
	fmt.Fprintf(b.opt.Log, "shim: linked %s with %s\n", LibName, strings.Join(libs, ", "))
	return nil
}
