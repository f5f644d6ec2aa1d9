package dist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LaunchOptions configure LaunchLocal.
type LaunchOptions struct {
	NProc int      // processes to start (ranks 0..NProc-1)
	Argv  []string // the command; Argv[0] is the program (e.g. os.Executable())
	// Env is the children's environment before the rank variables are
	// set (os.Environ() when nil); inherited launch variables (RANK,
	// SLURM_PROCID, ...) are replaced or removed.
	Env []string
	// Stdout and Stderr receive the children's output (os.Stdout and
	// os.Stderr when nil), each line prefixed "[rank N] " when Prefix.
	Stdout, Stderr io.Writer
	Prefix         bool
	// TCPStore rendezvouses through a TCPStore on 127.0.0.1 (rank 0
	// hosts it on a free port) instead of a FileStore in a private
	// temporary folder.
	TCPStore bool
	// Grace is how long the ranks get to exit after a rank failed or ctx
	// ended, before they are killed (10 s when 0). A forwarded signal
	// starts no such clock: the ranks finish their step and checkpoint;
	// a second signal kills them.
	Grace time.Duration
}

// ExitError is a rank's failure in LaunchLocal.
type ExitError struct {
	Rank int
	Err  error // from exec.Cmd.Wait: an *exec.ExitError for a non-zero exit or a signal
}

func (e *ExitError) Error() string { return fmt.Sprintf("dist: rank %d failed: %v", e.Rank, e.Err) }

func (e *ExitError) Unwrap() error { return e.Err }

// launchVars are the variables LaunchLocal sets or removes in the
// children's environment.
var launchVars = []string{
	"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
	"MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT", EnvStoreFile,
}

// LaunchLocal runs opt.NProc copies of opt.Argv on this machine as ranks
// of one job, with torchrun's variables set (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT) and
// SSLPIPE_DIST_STORE_FILE naming a FileStore in a private temporary folder
// (removed at the end), so nothing listens beyond the loopback interface.
// It forwards SIGINT and SIGTERM to every rank while it runs (they run in
// their own process group, so a terminal's Ctrl-C reaches them once,
// through the launcher), and a second signal kills them. When a rank
// fails, the others get SIGTERM and, after opt.Grace, SIGKILL; so do all
// of them when ctx ends. Children die with the launcher (Linux's parent
// death signal). It returns nil when every rank exited 0, else the first
// failure (an *ExitError naming the rank), or ctx's error when ctx ended
// first.
func LaunchLocal(ctx context.Context, opt LaunchOptions) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return launch(ctx, opt, sigs)
}

// launch is LaunchLocal with the signals to forward read from sigs.
func launch(ctx context.Context, opt LaunchOptions, sigs <-chan os.Signal) error {
	if opt.NProc < 1 {
		return fmt.Errorf("dist: launch %d processes", opt.NProc)
	}
	if len(opt.Argv) == 0 {
		return errors.New("dist: launch: no command")
	}
	if opt.Grace <= 0 {
		opt.Grace = 10 * time.Second
	}
	stdout, stderr := opt.Stdout, opt.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	base := opt.Env
	if base == nil {
		base = os.Environ()
	}
	env := withoutVars(base, launchVars)
	dir, err := os.MkdirTemp("", "sslpipe-dist-")
	if err != nil {
		return fmt.Errorf("dist: launch: %w", err)
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("dist: launch: %w", err)
	}
	common := append(env,
		"WORLD_SIZE="+strconv.Itoa(opt.NProc),
		"LOCAL_WORLD_SIZE="+strconv.Itoa(opt.NProc),
		"ROLE_WORLD_SIZE="+strconv.Itoa(opt.NProc),
		"GROUP_RANK=0",
		"MASTER_ADDR=127.0.0.1",
		"MASTER_PORT="+strconv.Itoa(port),
	)
	if !opt.TCPStore {
		common = append(common, EnvStoreFile+"="+filepath.Join(dir, "store"))
	}

	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, opt.NProc)
	cmds := make([]*exec.Cmd, 0, opt.NProc)
	var flush []*lineWriter
	var mu sync.Mutex // serializes prefixed lines from every rank
	for r := range opt.NProc {
		c := exec.Command(opt.Argv[0], opt.Argv[1:]...)
		c.Env = append(append([]string{}, common...),
			"RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r), "ROLE_RANK="+strconv.Itoa(r))
		prefix := ""
		if opt.Prefix {
			prefix = fmt.Sprintf("[rank %d] ", r)
		}
		// A file takes the children's writes directly; any other writer
		// gets whole lines, one at a time.
		wrap := func(w io.Writer) io.Writer {
			if _, ok := w.(*os.File); ok && prefix == "" {
				return w
			}
			lw := &lineWriter{mu: &mu, w: w, prefix: prefix}
			flush = append(flush, lw)
			return lw
		}
		c.Stdout, c.Stderr = wrap(stdout), wrap(stderr)
		// Own process group: a terminal's Ctrl-C reaches the launcher
		// only, which forwards it once. The parent death signal ends the
		// children if the launcher is killed.
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			for _, p := range cmds {
				_ = p.Process.Kill()
			}
			for range cmds {
				<-exits
			}
			return fmt.Errorf("dist: launch rank %d: %w", r, err)
		}
		cmds = append(cmds, c)
		go func() { exits <- exit{r, c.Wait()} }()
	}
	defer func() {
		for _, w := range flush {
			w.Flush()
		}
	}()

	alive := make([]bool, opt.NProc)
	for i := range alive {
		alive[i] = true
	}
	signalAll := func(s os.Signal) {
		for r, c := range cmds {
			if alive[r] {
				_ = c.Process.Signal(s)
			}
		}
	}
	var (
		first    error
		kill     <-chan time.Time
		signaled bool // a signal was forwarded
	)
	// stop signals every rank; grace starts the clock after which they
	// are killed (a failure, ctx's end; not a forwarded signal).
	stop := func(s os.Signal, grace bool) {
		signalAll(s)
		if grace && kill == nil {
			kill = time.After(opt.Grace)
		}
	}
	done := ctx.Done()
	for left := opt.NProc; left > 0; {
		select {
		case e := <-exits:
			left--
			alive[e.rank] = false
			if e.err != nil && first == nil {
				first = &ExitError{Rank: e.rank, Err: e.err}
				stop(syscall.SIGTERM, true)
			}
		case s := <-sigs:
			if signaled {
				signalAll(syscall.SIGKILL) // a second signal: no more grace
				continue
			}
			signaled = true
			stop(s, false)
		case <-done:
			done = nil
			if first == nil {
				first = fmt.Errorf("dist: launch: %w", ctx.Err())
			}
			stop(syscall.SIGTERM, true)
		case <-kill:
			kill = nil
			signalAll(syscall.SIGKILL)
		}
	}
	return first
}

// withoutVars drops the variables named in names from env.
func withoutVars(env, names []string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

// freePort asks the kernel for a free TCP port on 127.0.0.1 (for a
// TCPStore; free again when the store binds it, barring a race with
// another program).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lineWriter writes whole lines, each prefixed, to w under mu.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineWriter) emit(line []byte) {
	out := make([]byte, 0, len(l.prefix)+len(line))
	out = append(append(out, l.prefix...), line...)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(out) // one write per line
}

// Flush writes a last unterminated line.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.emit(append(l.buf, '\n'))
		l.buf = nil
	}
}
