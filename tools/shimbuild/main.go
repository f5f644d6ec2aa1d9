// Command shimbuild builds gotch's C API as a shared library against the
// libtorch this machine has (see package internal/shim), and writes the
// copy of gotch that links it.
//
// It prints progress and the stubbed ops to stderr and the shim folder to
// stdout. It uses no cgo, so it runs on machines without Go's C toolchain
// setup too (the GPU bundle ships it prebuilt).
//
//	shimbuild -gotch-module $(go env GOMODCACHE)/github.com/sugarme/gotch@v0.9.1 -out-gotch third_party/gotch
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"

	"github.com/sslpipe/sslpipe/internal/buildinfo"
	"github.com/sslpipe/sslpipe/internal/shim"
)

func main() {
	var (
		gotchModule = flag.String("gotch-module", "", "gotch module folder (default: from `go env GOMODCACHE`)")
		gotchSrc    = flag.String("gotch-src", "", "gotch libtch folder with the C++ sources (default: <gotch-module>/libtch)")
		outGotch    = flag.String("out-gotch", "", "write the gotch copy that links the shim here (empty: don't)")
		cache       = flag.String("cache", "", "cache root (default: $XDG_CACHE_HOME/sslpipe/shim or ~/.cache/sslpipe/shim)")
		jobs        = flag.Int("jobs", runtime.NumCPU(), "parallel compiler processes")
		chunks      = flag.Int("chunks", 0, "pieces to split the generated wrappers into (0: 2 x jobs)")
		install     = flag.Bool("install", false, "on Debian/Ubuntu as root, apt-get install libtorch-dev and libopenblas0-pthread when no libtorch is found")
		python      = flag.String("python", "python3", "interpreter whose torch package may provide libtorch (empty: skip)")
		force       = flag.Bool("force", false, "rebuild even when cached")
		quiet       = flag.Bool("quiet", false, "print only the stubbed-op count and the result")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *gotchModule, *gotchSrc, *outGotch, *cache, *jobs, *chunks, *install, *python, *force, *quiet); err != nil {
		fmt.Fprintf(os.Stderr, "shimbuild: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, gotchModule, gotchSrc, outGotch, cache string, jobs, chunks int, install bool, python string, force, quiet bool) error {
	if gotchModule == "" && (gotchSrc == "" || outGotch != "") {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return fmt.Errorf("cannot find gotch: pass -gotch-module or -gotch-src (go env GOMODCACHE: %v)", err)
		}
		gotchModule = filepath.Join(string(trimNL(out)), "github.com", "sugarme", "gotch@"+buildinfo.GotchVersion)
		if _, err := os.Stat(gotchModule); err != nil {
			if err := exec.Command("go", "mod", "download", "github.com/sugarme/gotch@"+buildinfo.GotchVersion).Run(); err != nil {
				return fmt.Errorf("gotch %s is not in the module cache and `go mod download` failed: %v", buildinfo.GotchVersion, err)
			}
		}
	}
	if gotchSrc == "" {
		gotchSrc = filepath.Join(gotchModule, "libtch")
	}
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return err
		}
		cache = filepath.Join(dir, "sslpipe", "shim")
	}
	lt, err := shim.Locate(python)
	if errors.Is(err, shim.ErrNotFound) && install {
		if err := aptInstall(); err != nil {
			return err
		}
		lt, err = shim.Locate(python)
	}
	if errors.Is(err, shim.ErrNotFound) {
		return errors.New(`no libtorch found. Either:
  - on Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread (or run 'make', which does it as root)
  - set LIBTORCH=/path/to/libtorch, a folder with include/ and lib/ (a libtorch download, or a PyTorch wheel's torch/ folder)
  - or install PyTorch for python3 (its torch/include and torch/lib are used)`)
	}
	if err != nil {
		return err
	}
	logw := os.Stderr
	opt := shim.Options{GotchSrc: gotchSrc, GotchVersion: buildinfo.GotchVersion, CacheRoot: cache, Jobs: jobs, Chunks: chunks, Force: force}
	if !quiet {
		opt.Log = logw
	}
	res, err := shim.Build(ctx, lt, opt)
	if err != nil {
		return err
	}
	if res.Cached {
		fmt.Fprintf(logw, "shim: cached %s for %s\n", res.LibPath(), lt.Describe())
	} else {
		fmt.Fprintf(logw, "shim: built %s for %s in %.0fs\n", res.LibPath(), lt.Describe(), res.Info.BuildSeconds)
	}
	fmt.Fprintf(logw, "shim: %d ops stubbed (not supported by libtorch %s); list: %s\n", len(res.Info.StubbedOps), lt.Version, filepath.Join(res.Dir, "stubbed.txt"))
	if outGotch != "" {
		marker := filepath.Join(outGotch, shim.GeneratedMarker)
		if b, err := os.ReadFile(marker); err != nil || string(b) != shim.MarkerContent(res.Dir) {
			if err := shim.WriteGotchCopy(gotchModule, outGotch, res.Dir); err != nil {
				return err
			}
			fmt.Fprintf(logw, "shim: wrote gotch copy %s linking %s\n", outGotch, res.Dir)
		}
	}
	fmt.Println(res.Dir)
	return nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func aptInstall() error {
	if _, err := os.Stat("/etc/debian_version"); err != nil || os.Geteuid() != 0 {
		return errors.New("no libtorch found and this is not Debian/Ubuntu as root: install libtorch (see README) or set LIBTORCH")
	}
	fmt.Fprintln(os.Stderr, "shim: no libtorch found; installing Debian's libtorch-dev and libopenblas0-pthread")
	try := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "-q", "--no-install-recommends", "libtorch-dev", "libopenblas0-pthread", "g++")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	if err := try(); err != nil {
		upd := exec.Command("apt-get", "update", "-q")
		upd.Stdout, upd.Stderr = os.Stderr, os.Stderr
		if err := upd.Run(); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if err := try(); err != nil {
			return fmt.Errorf("apt-get install libtorch-dev libopenblas0-pthread: %w", err)
		}
	}
	return nil
}
