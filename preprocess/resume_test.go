package preprocess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is not a test: TestKillMidwayThenRerun runs the test
// binary as a child process that executes Run slowly, and kills it.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv("SSLPIPE_PREPROCESS_HELPER")
	if spec == "" {
		t.Skip("helper process for TestKillMidwayThenRerun")
	}
	var o Options
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o.Out = os.Getenv("SSLPIPE_PREPROCESS_OUT")
	o.MaxErrors = -1
	o.Workers = 2
	// Slow enough that the parent sees finished shards and a shard in
	// progress before it kills us.
	testHookSample = func(int) { time.Sleep(15 * time.Millisecond) }
	if _, err := Run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// killMidway starts Run on o in a child process, waits until at least
// minDone shards are finished and another one is being written, and
// SIGKILLs it.
func killMidway(t *testing.T, o Options, minDone int) {
	t.Helper()
	spec, _ := json.Marshal(o)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "SSLPIPE_PREPROCESS_HELPER="+string(spec), "SSLPIPE_PREPROCESS_OUT="+o.Out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs, _ := filepath.Glob(filepath.Join(o.Out, stateDir, "shard-*.json"))
		tmps, _ := filepath.Glob(filepath.Join(o.Out, ".shard-*.tar.*.tmp"))
		if len(recs) >= minDone && len(tmps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child never reached %d finished shards and one in progress; stderr: %s", minDone, stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v (stderr %s)", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(o.Out, "manifest.json")); err == nil {
		t.Fatal("killed run left a manifest.json")
	}
	// Nothing half-written under a final name: every shard-*.tar present
	// has a completion record whose sha256 matches.
	tars, _ := filepath.Glob(filepath.Join(o.Out, "shard-*.tar"))
	for _, p := range tars {
		var j int
		fmt.Sscanf(filepath.Base(p), "shard-%06d.tar", &j)
		rec, err := readRecord(recordPath(o.Out, j))
		if err != nil {
			continue // renamed, record not yet written: complete, redone on resume
		}
		if sum, _, _ := fileSHA256(p); sum != rec.Shard.SHA256 {
			t.Errorf("%s under its final name does not match its record", p)
		}
	}
}

func TestKillMidwayThenRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir, _ := imageCorpus(t, 40)
	ref, out := t.TempDir(), t.TempDir()
	o := imageOpts(dir, ref)
	o.ShardSize = 5
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Out = out
	killMidway(t, o, 2)
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsKept < 2 || sum.ShardsWritten < 1 {
		t.Fatalf("resume kept %d and wrote %d shards; want >= 2 kept and >= 1 redone", sum.ShardsKept, sum.ShardsWritten)
	}
	if tmps, _ := filepath.Glob(filepath.Join(out, ".*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
	if n := sameTree(t, ref, out); n < 4 {
		t.Fatalf("compared only %d files", n)
	}
}

// faultFile fails writes like a full or read-only disk once limit bytes
// have been written through all faultFiles.
type faultFile struct {
	f     *os.File
	left  *int64
	errno syscall.Errno
}

func (w *faultFile) Write(p []byte) (int, error) {
	if int64(len(p)) > *w.left {
		n, _ := w.f.Write(p[:*w.left])
		*w.left = 0
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: w.errno}
	}
	*w.left -= int64(len(p))
	return w.f.Write(p)
}
func (w *faultFile) Sync() error  { return w.f.Sync() }
func (w *faultFile) Close() error { return w.f.Close() }

func withFaults(t *testing.T, limit int64, errno syscall.Errno) {
	left := limit
	orig := createFile
	createFile = func(name string) (outFile, error) {
		if left == 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: errno}
		}
		f, err := os.Create(name)
		if err != nil {
			return nil, err
		}
		return &faultFile{f: f, left: &left, errno: errno}, nil
	}
	t.Cleanup(func() { createFile = orig })
}

func TestDiskFullThenResume(t *testing.T) {
	dir, _ := imageCorpus(t, 30)
	ref, out := t.TempDir(), t.TempDir()
	if _, err := Run(context.Background(), imageOpts(dir, ref)); err != nil {
		t.Fatal(err)
	}
	// Enough room for the probe and about two shards.
	withFaults(t, 40000, syscall.ENOSPC)
	_, err := Run(context.Background(), imageOpts(dir, out))
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want a disk-full error, got %v", err)
	}
	if !strings.Contains(err.Error(), "shard-") || !strings.Contains(err.Error(), "run the same command again") {
		t.Errorf("error does not name the shard and what to do: %v", err)
	}
	t.Logf("disk full: %v", err)
	tars, _ := filepath.Glob(filepath.Join(out, "shard-*.tar"))
	for _, p := range tars {
		var j int
		fmt.Sscanf(filepath.Base(p), "shard-%06d.tar", &j)
		rec, err := readRecord(recordPath(out, j))
		if err != nil {
			t.Fatalf("%s under a final name without a record", p)
		}
		if sum, _, _ := fileSHA256(p); sum != rec.Shard.SHA256 {
			t.Fatalf("%s is not the complete shard", p)
		}
	}
	if tmps, _ := filepath.Glob(filepath.Join(out, ".*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left after the failure: %v", tmps)
	}
	if len(tars) == 0 {
		t.Fatal("the fault hit before any shard: the test proves nothing about resume")
	}
	// Space freed: the same command finishes and matches a clean run.
	createFile = func(name string) (outFile, error) { return os.Create(name) }
	sum, err := Run(context.Background(), imageOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsKept != len(tars) {
		t.Errorf("kept %d shards, %d were complete", sum.ShardsKept, len(tars))
	}
	sameTree(t, ref, out)
}

func TestReadOnlyOutput(t *testing.T) {
	dir, _ := imageCorpus(t, 4)
	out := t.TempDir()
	withFaults(t, 0, syscall.EROFS)
	_, err := Run(context.Background(), imageOpts(dir, out))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("want a read-only error before any work, got %v", err)
	}
	if tars, _ := filepath.Glob(filepath.Join(out, "shard-*")); len(tars) > 0 {
		t.Fatalf("shards written: %v", tars)
	}
}

func TestReadOnlyFolderPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions do not stop writes (TestReadOnlyOutput injects EROFS instead)")
	}
	dir, _ := imageCorpus(t, 4)
	out := t.TempDir()
	os.Chmod(out, 0o555)
	defer os.Chmod(out, 0o755)
	_, err := Run(context.Background(), imageOpts(dir, out))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("want ErrReadOnly, got %v", err)
	}
}
